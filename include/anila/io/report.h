// report.h — a small report builder: headings, paragraphs, tables, PNG figures
// and code blocks, written as DIR/report.md and a self-contained DIR/report.html.
//
//   Report r("Flowers: AniLA vs Langevin vs HMC");
//   r.paragraph("FID at the **checkpoints** of `configs/flowers.json`.")
//       .table({"iteration", "langevin", "anila"}, {{"100000", "65.2 ± 1.1", "48.1 ± 0.9"}},
//              "FID, mean ± sd over 3 seeds")
//       .figure("fid.png", "FID against iteration")
//       .code("anila reproduce flowers");
//   r.write(run_dir);   // run_dir/report.md, run_dir/report.html
//
// Figures are PNG files that already lie in the report folder; they are named
// by their path relative to it. report.md links them by that path; report.html
// embeds them as `data:image/png;base64,...` URIs, so the .html file alone is
// the whole report (no external fonts, scripts, styles or images).
//
// Text (paragraphs, headings, cells, captions) is plain text with two pieces of
// markdown understood in both outputs: **bold** and `code`. In report.md all
// text is written as given (other markdown characters are not escaped, except
// '|' in table cells); in report.html it is HTML-escaped. A blank line in a
// paragraph starts a new paragraph in both. Captioned tables and figures are
// numbered "Table 1.", "Figure 1." in the order they were added; a caption is
// shown above its table and below its figure.
#pragma once

#include <string>
#include <vector>

namespace anila::io {

class Report {
 public:
  explicit Report(std::string title);

  // level: 1..6 (the title is the only level-1 heading by convention).
  Report& heading(std::string text, int level = 2);
  Report& paragraph(std::string text);
  // header: [C] column names; rows: [R][C] already formatted cells ("48.1 ± 0.9").
  // In HTML, cells that read as numbers ("1e-3", "48.1 ± 0.9", "12%", "-") are
  // right-aligned, as is the header of a column of such cells.
  Report& table(std::vector<std::string> header, std::vector<std::vector<std::string>> rows,
                std::string caption = "");
  // png_path: relative to the report folder ("fid.png", "figs/grid_anila.png");
  // caption: also the image's alt text.
  Report& figure(std::string png_path, std::string caption);
  // A preformatted block, e.g. the command that reproduces the report.
  Report& code(std::string text);

  const std::string& title() const { return title_; }

  std::string markdown() const;
  // Reads the figures under `dir`; UserError (one line naming the file) when one
  // is missing or does not start with the PNG signature.
  std::string html(const std::string& dir) const;
  // Writes DIR/report.md and DIR/report.html atomically (DIR must exist). Every
  // figure is checked before either file is written.
  void write(const std::string& dir) const;

 private:
  enum class Kind { kHeading, kParagraph, kTable, kFigure, kCode };
  struct Block {
    Kind kind = Kind::kParagraph;
    int level = 0;        // kHeading
    std::string text;     // heading/paragraph/code text; figure path
    std::string caption;  // kTable, kFigure
    std::vector<std::string> header;
    std::vector<std::vector<std::string>> rows;
  };
  std::string title_;
  std::vector<Block> blocks_;
};

// RFC 4648 base64 (alphabet A–Z a–z 0–9 + /, '=' padding, no line breaks).
std::string base64_encode(const std::string& bytes);
// Replaces & < > " ' by &amp; &lt; &gt; &quot; &#39; (safe in text and in
// quoted attribute values).
std::string html_escape(const std::string& text);

// "mean ± sd" of v (sample sd, n − 1) with `format` (fmt syntax, e.g. "{:.3f}")
// for both numbers; just the mean for one value; "-" for none. The table cells of
// compare and reproduce.
std::string mean_sd(const std::vector<double>& v, const std::string& format);
// The mean of v (NaN when empty) and its sample sd (n − 1; NaN below two values).
double mean(const std::vector<double>& v);
double sample_sd(const std::vector<double>& v);

}  // namespace anila::io
