// report.cpp — the report builder: markdown and self-contained HTML renderings
// of a list of blocks, inline **bold** / `code` spans, base64 data URIs for the
// PNG figures, HTML escaping and the "does this cell read as a number" test
// that right-aligns table cells.
//
// Markdown layout: "# title", then every block separated by one blank line;
// GitHub-style tables (files.h markdown_table), "![alt](path)" plus an italic
// caption line, fenced code blocks whose fence is longer than any backtick run
// inside. HTML layout: one <main> column with an embedded style sheet; tables in
// a horizontally scrollable wrapper, figures as <figure><img><figcaption>.
#include "anila/io/report.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <utility>

#include <c10/util/Exception.h>
#include <fmt/format.h>

#include "anila/common.h"
#include "anila/config.h"
#include "anila/io/files.h"
#include "io/write_file.h"

namespace anila::io {

namespace fs = std::filesystem;

namespace {

constexpr char kPngSignature[] = "\x89PNG\r\n\x1a\n";  // 8 bytes (+ the terminating NUL)
constexpr size_t kPngSignatureSize = 8;
const std::string kPlusMinus = "\xC2\xB1";  // U+00B1 "±" in UTF-8

// The embedded style sheet: a readable column, bordered tables with zebra rows,
// right-aligned numeric cells, figures no wider than the column.
constexpr const char* kStyle = R"css(
body { margin: 0; background: #fff; color: #1f2328;
  font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 880px; margin: 0 auto; padding: 24px 20px 64px; }
h1, h2, h3, h4, h5, h6 { line-height: 1.25; margin: 1.6em 0 .6em; }
h1 { margin-top: .4em; padding-bottom: .3em; border-bottom: 2px solid #d0d7de; }
h2 { padding-bottom: .2em; border-bottom: 1px solid #e5e8eb; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
  font-size: 88%; }
code { background: #eff2f5; padding: .1em .35em; border-radius: 4px; }
pre { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px; padding: 12px 14px;
  overflow-x: auto; line-height: 1.45; }
pre code { background: none; padding: 0; font-size: 100%; }
.table { overflow-x: auto; margin: 1.2em 0; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
caption { caption-side: top; text-align: left; font-style: italic; color: #57606a; padding-bottom: .4em; }
th, td { border: 1px solid #d0d7de; padding: 5px 12px; vertical-align: top; text-align: left; }
thead th { background: #eef1f4; }
tbody tr:nth-child(even) { background: #f6f8fa; }
th.num, td.num { text-align: right; white-space: nowrap; }
figure { margin: 1.6em 0; text-align: center; }
figure img { max-width: 100%; height: auto; border: 1px solid #e5e8eb; }
figcaption { font-style: italic; color: #57606a; margin-top: .5em; }
)css";

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// `s` on one line: every '\r' / '\n' becomes a space; trimmed.
std::string one_line(const std::string& s) {
  std::string out = s;
  std::replace(out.begin(), out.end(), '\n', ' ');
  std::replace(out.begin(), out.end(), '\r', ' ');
  return trim(out);
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
  return s;
}

// Paragraphs of `text`: runs of lines separated by blank (whitespace-only) lines.
std::vector<std::string> split_paragraphs(const std::string& text) {
  std::vector<std::string> out;
  std::string current;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (trim(line).empty()) {
      if (!current.empty()) out.push_back(current);
      current.clear();
    } else {
      current += (current.empty() ? "" : "\n") + line;
    }
    start = end + 1;
  }
  if (!current.empty()) out.push_back(current);
  return out;
}

// The inline spans of `s`: `code` (taken literally) and **bold** (may hold
// code). html: tags and escaped text; otherwise the plain text without markers.
// An opening marker without its closing one is an ordinary character.
std::string render_inline(const std::string& s, bool html) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] == '`') {
      const size_t j = s.find('`', i + 1);
      if (j != std::string::npos && j > i + 1) {
        const std::string inner = s.substr(i + 1, j - i - 1);
        out += html ? "<code>" + html_escape(inner) + "</code>" : inner;
        i = j + 1;
        continue;
      }
    } else if (s.compare(i, 2, "**") == 0) {
      const size_t j = s.find("**", i + 2);
      if (j != std::string::npos && j > i + 2) {
        const std::string inner = render_inline(s.substr(i + 2, j - i - 2), html);
        out += html ? "<strong>" + inner + "</strong>" : inner;
        i = j + 2;
        continue;
      }
    }
    out += html ? html_escape(std::string(1, s[i])) : std::string(1, s[i]);
    ++i;
  }
  return out;
}

std::string inline_html(const std::string& s) {
  return render_inline(s, /*html=*/true);
}
std::string inline_plain(const std::string& s) {
  return render_inline(s, /*html=*/false);
}

// A number as tables print it: [+-] digits [. digits] [e[+-]digits] [%], or
// nan / inf / infinity (any case, optionally signed).
bool is_number_token(std::string s) {
  if (!s.empty() && s.back() == '%') s.pop_back();
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  std::string rest = s.substr(i);
  std::transform(rest.begin(), rest.end(), rest.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (rest == "nan" || rest == "inf" || rest == "infinity") return true;
  auto digits = [&]() {
    const size_t from = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    return i - from;
  };
  size_t n = digits();
  if (i < s.size() && s[i] == '.') {
    ++i;
    n += digits();
  }
  if (n == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (digits() == 0) return false;
  }
  return i == s.size();
}

// Whether a table cell reads as a number: numbers joined by "±" / "+-" ("48.1 ±
// 0.9"), or a lone dash standing for a missing value ("-", "–", "—").
bool is_numeric_cell(const std::string& cell) {
  std::string s = replace_all(cell, "\xE2\x88\x92", "-");  // U+2212 minus sign
  s = replace_all(s, kPlusMinus, " ");
  std::vector<std::string> tokens;
  std::string token;
  for (char c : s + ' ') {
    if (is_space(c)) {
      if (!token.empty()) tokens.push_back(token);
      token.clear();
    } else {
      token += c;
    }
  }
  if (tokens.empty()) return false;
  if (tokens.size() == 1 &&
      (tokens[0] == "-" || tokens[0] == "\xE2\x80\x93" || tokens[0] == "\xE2\x80\x94")) {
    return true;
  }
  for (const auto& t : tokens) {
    if (t != "+-" && !is_number_token(t)) return false;
  }
  return true;
}

// A figure path as a markdown link target: characters that would end or break
// the link (space, parentheses, angle brackets, '%', control bytes) percent-encoded.
std::string markdown_url(const std::string& path) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : path) {
    if (c <= 0x20 || c == 0x7F || c == '(' || c == ')' || c == '<' || c == '>' || c == '%') {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// Image alt text in markdown: one line, without inline markers, brackets escaped.
std::string markdown_alt(const std::string& caption) {
  std::string out;
  for (char c : inline_plain(one_line(caption))) {
    if (c == '[' || c == ']' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

// The longest run of consecutive '`' in `s`.
size_t longest_backtick_run(const std::string& s) {
  size_t best = 0, run = 0;
  for (char c : s) {
    run = c == '`' ? run + 1 : 0;
    best = std::max(best, run);
  }
  return best;
}

std::string with_final_newline(const std::string& s) {
  return (s.empty() || s.back() == '\n') ? s : s + '\n';
}

std::string join_path(const std::string& dir, const std::string& name) {
  return (fs::path(dir) / name).string();
}

}  // namespace

// ---- public helpers ------------------------------------------------------------

std::string base64_encode(const std::string& bytes) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = (static_cast<uint8_t>(bytes[i]) << 16) |
                       (static_cast<uint8_t>(bytes[i + 1]) << 8) |
                       static_cast<uint8_t>(bytes[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  const size_t left = bytes.size() - i;  // 0, 1 or 2 bytes: 2 or 3 symbols and padding
  if (left > 0) {
    uint32_t v = static_cast<uint32_t>(static_cast<uint8_t>(bytes[i])) << 16;
    if (left == 2) v |= static_cast<uint32_t>(static_cast<uint8_t>(bytes[i + 1])) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += left == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// ---- building ------------------------------------------------------------------

Report::Report(std::string title) : title_(std::move(title)) {}

Report& Report::heading(std::string text, int level) {
  TORCH_CHECK(level >= 1 && level <= 6, "Report::heading: level must be 1..6, got ", level);
  Block b;
  b.kind = Kind::kHeading;
  b.level = level;
  b.text = std::move(text);
  blocks_.push_back(std::move(b));
  return *this;
}

Report& Report::paragraph(std::string text) {
  Block b;
  b.kind = Kind::kParagraph;
  b.text = std::move(text);
  blocks_.push_back(std::move(b));
  return *this;
}

Report& Report::table(std::vector<std::string> header, std::vector<std::vector<std::string>> rows,
                      std::string caption) {
  TORCH_CHECK(!header.empty(), "Report::table: the header has no columns");
  for (const auto& row : rows) {
    TORCH_CHECK(row.size() == header.size(), "Report::table: a row has ", row.size(),
                " cells, the header has ", header.size());
  }
  Block b;
  b.kind = Kind::kTable;
  b.header = std::move(header);
  b.rows = std::move(rows);
  b.caption = std::move(caption);
  blocks_.push_back(std::move(b));
  return *this;
}

Report& Report::figure(std::string png_path, std::string caption) {
  TORCH_CHECK(!png_path.empty() && fs::path(png_path).is_relative(),
              "Report::figure: the path must be relative to the report folder, got '", png_path,
              "'");
  Block b;
  b.kind = Kind::kFigure;
  b.text = std::move(png_path);
  b.caption = std::move(caption);
  blocks_.push_back(std::move(b));
  return *this;
}

Report& Report::code(std::string text) {
  Block b;
  b.kind = Kind::kCode;
  b.text = std::move(text);
  blocks_.push_back(std::move(b));
  return *this;
}

// ---- markdown ------------------------------------------------------------------

std::string Report::markdown() const {
  std::string out = "# " + one_line(title_) + "\n";
  int tables = 0, figures = 0;  // captioned ones, for their numbers
  for (const Block& b : blocks_) {
    switch (b.kind) {
      case Kind::kHeading:
        out += "\n" + std::string(b.level, '#') + " " + one_line(b.text) + "\n";
        break;
      case Kind::kParagraph:
        for (const auto& p : split_paragraphs(b.text)) out += "\n" + p + "\n";
        break;
      case Kind::kTable: {
        const std::string caption = one_line(b.caption);
        if (!caption.empty()) {
          out += "\n*Table " + std::to_string(++tables) + ". " + caption + "*\n";
        }
        out += "\n" + markdown_table(b.header, b.rows);
        break;
      }
      case Kind::kFigure: {
        out += "\n![" + markdown_alt(b.caption) + "](" + markdown_url(b.text) + ")\n";
        const std::string caption = one_line(b.caption);
        if (!caption.empty()) {
          out += "\n*Figure " + std::to_string(++figures) + ". " + caption + "*\n";
        }
        break;
      }
      case Kind::kCode: {
        const std::string fence(std::max<size_t>(3, longest_backtick_run(b.text) + 1), '`');
        out += "\n" + fence + "\n" + with_final_newline(b.text) + fence + "\n";
        break;
      }
    }
  }
  return out;
}

// ---- HTML ----------------------------------------------------------------------

std::string Report::html(const std::string& dir) const {
  std::string out;
  out += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  out += "<title>" + html_escape(inline_plain(one_line(title_))) + "</title>\n";
  out += "<style>" + std::string(kStyle) + "</style>\n</head>\n<body>\n<main>\n";
  out += "<h1>" + inline_html(one_line(title_)) + "</h1>\n";
  int tables = 0, figures = 0;
  for (const Block& b : blocks_) {
    switch (b.kind) {
      case Kind::kHeading: {
        const std::string tag = "h" + std::to_string(b.level);
        out += "<" + tag + ">" + inline_html(one_line(b.text)) + "</" + tag + ">\n";
        break;
      }
      case Kind::kParagraph:
        for (const auto& p : split_paragraphs(b.text)) out += "<p>" + inline_html(p) + "</p>\n";
        break;
      case Kind::kTable: {
        // A column is numeric when every non-empty body cell of it is.
        std::vector<bool> numeric_column(b.header.size());
        for (size_t j = 0; j < b.header.size(); ++j) {
          bool any = false, all = true;
          for (const auto& row : b.rows) {
            if (trim(row[j]).empty()) continue;
            any = true;
            all = all && is_numeric_cell(row[j]);
          }
          numeric_column[j] = any && all;
        }
        out += "<div class=\"table\">\n<table>\n";
        const std::string caption = one_line(b.caption);
        if (!caption.empty()) {
          out += "<caption>Table " + std::to_string(++tables) + ". " + inline_html(caption) +
                 "</caption>\n";
        }
        out += "<thead>\n<tr>";
        for (size_t j = 0; j < b.header.size(); ++j) {
          out += numeric_column[j] ? "<th class=\"num\">" : "<th>";
          out += inline_html(b.header[j]) + "</th>";
        }
        out += "</tr>\n</thead>\n<tbody>\n";
        for (const auto& row : b.rows) {
          out += "<tr>";
          for (const auto& cell : row) {
            out += is_numeric_cell(cell) ? "<td class=\"num\">" : "<td>";
            out += inline_html(cell) + "</td>";
          }
          out += "</tr>\n";
        }
        out += "</tbody>\n</table>\n</div>\n";
        break;
      }
      case Kind::kFigure: {
        const std::string path = join_path(dir, b.text);
        const std::string bytes = detail::read_file(path, "report figure ");
        if (bytes.compare(0, kPngSignatureSize, kPngSignature, kPngSignatureSize) != 0) {
          throw UserError("report figure " + path +
                          " is not a PNG file (it does not start with the PNG signature)");
        }
        out += "<figure>\n<img src=\"data:image/png;base64," + base64_encode(bytes) + "\" alt=\"" +
               html_escape(inline_plain(one_line(b.caption))) + "\">\n";
        const std::string caption = one_line(b.caption);
        if (!caption.empty()) {
          out += "<figcaption>Figure " + std::to_string(++figures) + ". " + inline_html(caption) +
                 "</figcaption>\n";
        }
        out += "</figure>\n";
        break;
      }
      case Kind::kCode:
        out += "<pre><code>" + html_escape(with_final_newline(b.text)) + "</code></pre>\n";
        break;
    }
  }
  out += "</main>\n</body>\n</html>\n";
  return out;
}

void Report::write(const std::string& dir) const {
  const std::string md = markdown();
  const std::string page = html(dir);  // checks every figure before anything is written
  write_atomic(join_path(dir, "report.md"), md);
  write_atomic(join_path(dir, "report.html"), page);
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? NAN : s / static_cast<double>(v.size());
}

double sample_sd(const std::vector<double>& v) {
  if (v.size() < 2) return NAN;
  const double m = mean(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size() - 1));
}

std::string mean_sd(const std::vector<double>& v, const std::string& format) {
  if (v.empty()) return "-";
  std::string out = fmt::format(fmt::runtime(format), mean(v));
  if (v.size() > 1) out += " ± " + fmt::format(fmt::runtime(format), sample_sd(v));
  return out;
}

}  // namespace anila::io
