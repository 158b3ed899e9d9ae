// cli.h — shared pieces of the `anila` subcommands (private to the tool).
//
// Each subcommand lives in its own file: it declares its options on a CLI11
// subcommand and calls library functions; no algorithm lives here.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "anila/common.h"

namespace anila::cli {

// Reads a config file and applies "--set key=value" overrides and, when not
// empty, "--device" (UserError on problems).
Json load_config(const std::string& path, const std::vector<std::string>& sets,
                 const std::string& device = "");
// Declares --device on a subcommand (cpu | cuda | cuda:N | auto).
void add_device_option(CLI::App* cmd, std::string& device);
// Applies the config's "threads" key to LibTorch's intra-op pool (0 = library default).
void apply_threads(const Json& config);
// A CLI11 check that refuses an empty value (--out "").
const CLI::Validator& non_empty();
// "configs/rings.json" -> "rings"
std::string config_stem(const std::string& path);

void add_train(CLI::App& app);
void add_compare(CLI::App& app);
void add_bench(CLI::App& app);
void add_sample(CLI::App& app);
void add_inpaint(CLI::App& app);
void add_features(CLI::App& app);
void add_reproduce(CLI::App& app);
void add_eval(CLI::App& app);

}  // namespace anila::cli
