// json_scan.h — a linear scan over JSON text that skips string literals, for the
// checks that run before a parser sees the text (internal to the library).
//
//   scan_outside_strings(text, [&](size_t i) { ...; return i; });
#pragma once

#include <cstddef>
#include <string>

namespace anila {

// Calls visit(i) for every index i of `text` outside string literals (a quote
// opens and closes one; a backslash inside one escapes the next character).
// visit returns the index of the last character it consumed (i, or more to skip a
// token); the scan goes on after it.
template <class Visit>
void scan_outside_strings(const std::string& text, Visit&& visit) {
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else {
      i = visit(i);
    }
  }
}

}  // namespace anila
