// fuzz_config.cpp — config JSON and --set overrides.
//
// Input: JSON text, optionally followed by a line "----" and one
// "section.key=value" override per line. Every section is then read through
// ConfigReader with each of its keys as number, integer, boolean and string.
#include <string>
#include <vector>

#include "anila/config.h"
#include "fuzz.h"

ANILA_FUZZ_TARGET(config) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::string json = text;
  std::vector<std::string> sets;
  const size_t sep = text.find("\n----\n");
  if (sep != std::string::npos) {
    json = text.substr(0, sep);
    size_t at = sep + 6;
    while (at <= text.size()) {
      const size_t eol = text.find('\n', at);
      sets.push_back(text.substr(at, eol == std::string::npos ? std::string::npos : eol - at));
      if (eol == std::string::npos) break;
      at = eol + 1;
    }
  }
  try {
    anila::Json config = anila::parse_json(json, "fuzz.json");
    for (const std::string& s : sets) {
      try {
        anila::apply_override(config, s);
      } catch (const anila::UserError&) {
      }
    }
    if (!config.is_object()) return 0;
    for (auto it = config.begin(); it != config.end(); ++it) {
      (void)anila::describe_json(it.value());
      if (!it.value().is_object()) continue;
      anila::ConfigReader r(it.value(), it.key());
      for (auto kv = it.value().begin(); kv != it.value().end(); ++kv) {
        const std::string& k = kv.key();
        try {
          r.number(k, 0, anila::Range::positive());
        } catch (const anila::UserError&) {
        }
        try {
          r.integer(k, 0, anila::Range::at_least(1));
        } catch (const anila::UserError&) {
        }
        try {
          r.boolean(k, false);
        } catch (const anila::UserError&) {
        }
        try {
          r.choice(k, "a", {"a", "b"});
        } catch (const anila::UserError&) {
        }
        try {
          r.int_list(k, {1});
        } catch (const anila::UserError&) {
        }
      }
      try {
        r.finish();
      } catch (const anila::UserError&) {
      }
    }
    (void)config.dump(2);
  } catch (const anila::UserError&) {
  }
  return 0;
}
