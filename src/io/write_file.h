// write_file.h — private checked helpers for whole-file I/O shared by src/io/*.cpp.
//
// Every failure is a one-line UserError naming the file and the reason, with an
// optional `kind` ("PNG ", ".npy file ") so messages read
// "cannot write PNG out/fig.png: No such file or directory".
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

namespace anila::io::detail {

// Writes the concatenation of `chunks` to `path.tmp-<pid>-<n>` in the same folder,
// flushes, fsyncs, closes and renames it onto `path`. On failure the temporary
// file is removed and UserError("cannot write <kind><path>: <reason>") thrown.
void write_file_atomic(const std::string& path, std::initializer_list<std::string_view> chunks,
                       const std::string& kind = "");

// The whole content of `path`; UserError("cannot read <kind><path>: <reason>").
std::string read_file(const std::string& path, const std::string& kind = "");

}  // namespace anila::io::detail
