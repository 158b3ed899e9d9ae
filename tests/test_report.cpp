// test_report.cpp — tests of anila/io/report.h: base64 against the RFC 4648
// test vectors, HTML escaping, the markdown and HTML renderings of a report
// with tables, figures, a paragraph and a code block (figures decoded back from
// their data URIs with a decoder written here, independently of the encoder),
// right-alignment of numeric cells, and the errors for missing / non-PNG figures.
//
// Expected strings are written out by hand from RFC 4648, the HTML escaping
// rules and the layout documented in report.h.
#include <gtest/gtest.h>

#include "test_util.h"

#include <cmath>
#include <cstdio>

#include <fmt/format.h>
#include <filesystem>
#include <string>
#include <vector>

#include <c10/util/Exception.h>

#include "anila/common.h"
#include "anila/io/files.h"
#include "anila/io/image.h"
#include "anila/io/report.h"
#include "anila/io/results.h"

using anila::Json;
using anila::UserError;
namespace io = anila::io;
using namespace anila::io;

namespace {

using anila::test::TempDir;
using anila::test::user_error_message;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

size_t count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

std::string read_bytes(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  EXPECT_NE(f, nullptr) << path;
  if (!f) return "";
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
  std::fclose(f);
  return out;
}

void write_bytes(const std::string& path, const std::string& bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(std::fwrite(bytes.data(), 1, bytes.size(), f), bytes.size());
  std::fclose(f);
}

// RFC 4648 §4 decoding, bit by bit: each symbol adds 6 bits, every full 8 bits
// make a byte; '=' ends the data. Fails the test on a symbol outside the alphabet.
std::string base64_decode(const std::string& text) {
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned bits = 0;
  int nbits = 0;
  for (char c : text) {
    if (c == '=') break;
    const size_t v = alphabet.find(c);
    if (v == std::string::npos) {
      ADD_FAILURE() << "not a base64 symbol: " << c;
      return "";
    }
    bits = (bits << 6) | static_cast<unsigned>(v);
    nbits += 6;
    if (nbits >= 8) {
      nbits -= 8;
      out += static_cast<char>((bits >> nbits) & 0xFF);
    }
  }
  return out;
}

// A small image with a distinct pixel pattern, so two figures differ.
Image test_image(int w, int h, uint8_t shade) {
  Image img(w, h);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      img.at(x, y) = Rgb{static_cast<uint8_t>(shade + 10 * x), static_cast<uint8_t>(20 * y), 7};
    }
  }
  return img;
}

// ---- base64 and escaping ---------------------------------------------------------

// The results table of compare, reproduce and sample: mean ± sd (n − 1) per
// sampler over finite values, diverged runs counted in the label and in the
// cells they leave empty, text columns shown as given, CSV of means and sds.
TEST(ResultsTable, MeanSdPerGroupWithDivergedRunsCounted) {
  io::ResultsTable t({{"kl", "model kl", "{:.3f}"}, {"note", "note", ""}});
  t.add({"langevin", 0, {{"kl", 0.1}, {"note", "a"}}});
  t.add({"langevin", 1, {{"kl", 0.3}}});
  t.add({"anila", 0, {{"kl", 0.2}}});
  t.add({"anila", 1, Json::object(), /*diverged=*/true});
  t.add({"hmc", 0, {{"kl", NAN}}, /*diverged=*/true, "diverged at step 40"});
  EXPECT_EQ(t.groups(), (std::vector<std::string>{"langevin", "anila", "hmc"}));
  const io::Column& kl = t.columns()[0];
  EXPECT_EQ(t.cell("langevin", kl), fmt::format("0.200 ± {:.3f}", 0.2 / std::sqrt(2.0)));
  EXPECT_EQ(t.cell("anila", kl), "0.200 (1/2 diverged)");
  EXPECT_EQ(t.label("anila"), "anila (1 of 2 diverged)");
  EXPECT_EQ(t.cell("hmc", kl), "-");  // a value, but not a finite one
  EXPECT_EQ(t.label("hmc"), "hmc (diverged at step 40)");
  EXPECT_EQ(t.cell("langevin", t.columns()[1]), "a");
  EXPECT_EQ(t.cell("anila", t.columns()[1]), "-");

  io::ResultsTable all({{"kl", "kl", "{:.3f}"}});
  all.add({"gd", 0, Json::object(), true});
  all.add({"gd", 1, Json::object(), true});
  EXPECT_EQ(all.cell("gd", all.columns()[0]), "diverged (2/2)");

  const std::string csv = t.csv();
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "sampler,runs,diverged,kl_mean,kl_sd");
  EXPECT_NE(csv.find(fmt::format("langevin,2,0,0.2,{:.9g}", 0.2 / std::sqrt(2.0))),
            std::string::npos)
      << csv;
  EXPECT_NE(csv.find("anila,2,1,0.2,\n"), std::string::npos) << csv;
  const Json j = t.to_json();
  EXPECT_EQ(j[0]["kl"]["n"], 2);
  EXPECT_EQ(j[1]["diverged"], 1);
  EXPECT_NE(t.markdown().find("| anila (1 of 2 diverged) "), std::string::npos) << t.markdown();
}

TEST(Report, Base64Rfc4648TestVectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
}

TEST(Report, Base64HighBytesAndNul) {
  // 0xFF 0xFE 0x00 = 111111 111111 111000 000000 -> 63 63 56 0 -> "//4A";
  // 0xFB 0xFF = 111110 111111 1111(00) -> 62 63 60 -> "+/8=".
  EXPECT_EQ(base64_encode(std::string("\xFF\xFE\x00", 3)), "//4A");
  EXPECT_EQ(base64_encode("\xFB\xFF"), "+/8=");
  EXPECT_EQ(base64_decode("//4A"), std::string("\xFF\xFE\x00", 3));  // the test's own decoder
}

TEST(Report, HtmlEscape) {
  EXPECT_EQ(html_escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
  EXPECT_EQ(html_escape("48.1 \xC2\xB1 0.9"), "48.1 \xC2\xB1 0.9");  // UTF-8 passes through
  EXPECT_EQ(html_escape(""), "");
}

// ---- a whole report ----------------------------------------------------------------

TEST(Report, TablesFiguresAndParagraphInMarkdownAndHtml) {
  TempDir dir("anila_report");
  std::filesystem::create_directories(dir / "figs");
  write_png(test_image(3, 2, 100), dir / "curves.png");
  write_png(test_image(5, 4, 30), dir / "figs/grid.png");

  const std::vector<std::string> header1 = {"iteration", "langevin", "anila"};
  const std::vector<std::vector<std::string>> rows1 = {
      {"1000", "65.2 \xC2\xB1 1.1", "48.1 \xC2\xB1 0.9"},
      {"2000", "60.4 \xC2\xB1 1.3", "41.7 \xC2\xB1 0.5"}};
  const std::vector<std::string> header2 = {"sampler", "note"};
  const std::vector<std::vector<std::string>> rows2 = {{"hmc", "a|b"}, {"mala", "diverged"}};

  Report r("Flowers <FID>");
  r.paragraph("FID at several checkpoints, mean over 3 seeds.")
      .heading("Results")
      .table(header1, rows1, "FID, mean \xC2\xB1 sd")
      .figure("curves.png", "FID against iteration")
      .table(header2, rows2)
      .figure("figs/grid.png", "Samples & grids")
      .code("anila reproduce flowers");
  r.write(dir.str());

  EXPECT_EQ(dir.entries(),
            (std::vector<std::string>{"curves.png", "figs", "report.html", "report.md"}));
  const std::string md = read_bytes(dir / "report.md");
  const std::string html = read_bytes(dir / "report.html");
  EXPECT_EQ(md, r.markdown());
  EXPECT_EQ(html, r.html(dir.str()));

  // Markdown.
  EXPECT_EQ(md.rfind("# Flowers <FID>\n", 0), 0u) << md;
  EXPECT_TRUE(contains(md, "\nFID at several checkpoints, mean over 3 seeds.\n"));
  EXPECT_TRUE(contains(md, "\n## Results\n"));
  for (const auto& h : header1) EXPECT_TRUE(contains(md, "| " + h + " ")) << h;
  for (const auto& h : header2) EXPECT_TRUE(contains(md, "| " + h + " ")) << h;
  for (const auto& row : rows1) {
    for (const auto& cell : row) EXPECT_TRUE(contains(md, "| " + cell + " ")) << cell;
  }
  EXPECT_TRUE(contains(md, "| hmc "));
  EXPECT_TRUE(contains(md, "| mala "));
  EXPECT_TRUE(contains(md, "| diverged "));
  EXPECT_TRUE(contains(md, "| a\\|b ")) << "'|' in a cell must be escaped";
  EXPECT_TRUE(contains(md, "\n*Table 1. FID, mean \xC2\xB1 sd*\n"));
  EXPECT_FALSE(contains(md, "Table 2"));  // the second table has no caption
  EXPECT_TRUE(contains(md, "\n![FID against iteration](curves.png)\n"));
  EXPECT_TRUE(contains(md, "\n*Figure 1. FID against iteration*\n"));
  EXPECT_TRUE(contains(md, "\n![Samples & grids](figs/grid.png)\n"));
  EXPECT_TRUE(contains(md, "\n*Figure 2. Samples & grids*\n"));
  EXPECT_TRUE(contains(md, "\n```\nanila reproduce flowers\n```\n"));
  // Blocks appear in the order they were added.
  EXPECT_LT(md.find("FID at several"), md.find("## Results"));
  EXPECT_LT(md.find("## Results"), md.find("| iteration"));
  EXPECT_LT(md.find("| iteration"), md.find("(curves.png)"));
  EXPECT_LT(md.find("(curves.png)"), md.find("| sampler"));
  EXPECT_LT(md.find("| sampler"), md.find("(figs/grid.png)"));
  EXPECT_LT(md.find("(figs/grid.png)"), md.find("```"));

  // HTML: a standalone document.
  EXPECT_EQ(html.rfind("<!DOCTYPE html>\n", 0), 0u);
  EXPECT_TRUE(contains(html, "<meta charset=\"utf-8\">"));
  EXPECT_TRUE(contains(html, "<title>Flowers &lt;FID&gt;</title>"));
  EXPECT_TRUE(contains(html, "<h1>Flowers &lt;FID&gt;</h1>"));
  EXPECT_TRUE(contains(html, "<style>"));
  EXPECT_TRUE(contains(html, "<p>FID at several checkpoints, mean over 3 seeds.</p>"));
  EXPECT_TRUE(contains(html, "<h2>Results</h2>"));
  for (const auto& h : header1) EXPECT_TRUE(contains(html, ">" + h + "</th>")) << h;
  for (const auto& h : header2) EXPECT_TRUE(contains(html, ">" + h + "</th>")) << h;
  // Numbers right-aligned ("num"), text not.
  for (const auto& row : rows1) {
    for (const auto& cell : row)
      EXPECT_TRUE(contains(html, "<td class=\"num\">" + cell + "</td>")) << cell;
  }
  for (const std::string cell : {"hmc", "a|b", "mala", "diverged"}) {
    EXPECT_TRUE(contains(html, "<td>" + cell + "</td>")) << cell;
  }
  EXPECT_TRUE(contains(html, "<th class=\"num\">langevin</th>"));
  EXPECT_TRUE(contains(html, "<th>sampler</th>"));
  EXPECT_TRUE(contains(html, "<caption>Table 1. FID, mean \xC2\xB1 sd</caption>"));
  EXPECT_EQ(count(html, "<caption>"), 1u);
  EXPECT_TRUE(contains(html, "alt=\"FID against iteration\""));
  EXPECT_TRUE(contains(html, "alt=\"Samples &amp; grids\""));
  EXPECT_TRUE(contains(html, "<figcaption>Figure 1. FID against iteration</figcaption>"));
  EXPECT_TRUE(contains(html, "<figcaption>Figure 2. Samples &amp; grids</figcaption>"));
  EXPECT_TRUE(contains(html, "<pre><code>anila reproduce flowers\n</code></pre>"));

  // Self-contained: every src is a PNG data URI holding exactly the file's bytes.
  const std::string prefix = "src=\"data:image/png;base64,";
  EXPECT_EQ(count(html, "src=\""), 2u);
  EXPECT_EQ(count(html, prefix), 2u);
  const std::vector<std::string> files = {dir / "curves.png", dir / "figs/grid.png"};
  size_t at = 0;
  for (const auto& file : files) {
    at = html.find(prefix, at);
    ASSERT_NE(at, std::string::npos);
    at += prefix.size();
    const size_t end = html.find('"', at);
    ASSERT_NE(end, std::string::npos);
    const std::string png = read_bytes(file);
    ASSERT_GT(png.size(), 8u);
    EXPECT_EQ(base64_decode(html.substr(at, end - at)), png) << file;
  }
  for (const std::string external :
       {"http://", "https://", "url(", "@import", "<script", "<link", "href="}) {
    EXPECT_FALSE(contains(html, external)) << external;
  }
}

TEST(Report, InlineBoldAndCodeSpans) {
  Report r("T");
  r.paragraph("Use **bold** and `a<b` but 2 ** 3 stays.\n\nSecond <para>.");
  const std::string md = r.markdown();
  EXPECT_EQ(md, "# T\n\nUse **bold** and `a<b` but 2 ** 3 stays.\n\nSecond <para>.\n");
  const std::string html = r.html("/nonexistent");  // no figures: the folder is not read
  EXPECT_TRUE(
      contains(html,
               "<p>Use <strong>bold</strong> and <code>a&lt;b</code> but 2 ** 3 stays.</p>\n"
               "<p>Second &lt;para&gt;.</p>\n"))
      << html;
}

TEST(Report, HeadingLevelsAndCodeFences) {
  Report r("T");
  r.heading("Setup", 3).code("echo ```x```\n");
  EXPECT_EQ(r.markdown(), "# T\n\n### Setup\n\n````\necho ```x```\n````\n");
  const std::string html = r.html("/nonexistent");
  EXPECT_TRUE(contains(html, "<h3>Setup</h3>\n<pre><code>echo ```x```\n</code></pre>\n"));
  EXPECT_THROW(r.heading("x", 0), c10::Error);
  EXPECT_THROW(r.heading("x", 7), c10::Error);
  EXPECT_THROW(r.figure("/abs/fig.png", "x"), c10::Error);
  EXPECT_THROW(r.table({"a", "b"}, {{"1"}}), c10::Error);
}

TEST(Report, NumericCellsAreRightAligned) {
  Report r("T");
  r.table({"numbers", "text"}, {{"1e-3", "diverged"},
                                {"-2.5%", "3 chains"},
                                {"\xE2\x80\x94", "1.2.3"},
                                {"nan", "e5"},
                                {"12.0 +- 0.3", "-"},
                                {"\xE2\x88\x92"
                                 "4",
                                 ""}});
  const std::string html = r.html("/nonexistent");
  for (const std::string cell : {"1e-3", "-2.5%", "\xE2\x80\x94", "nan", "12.0 +- 0.3",
                                 "\xE2\x88\x92"
                                 "4"}) {
    EXPECT_TRUE(contains(html, "<td class=\"num\">" + cell + "</td>")) << cell;
  }
  for (const std::string cell : {"diverged", "3 chains", "1.2.3", "e5", ""}) {
    EXPECT_TRUE(contains(html, "<td>" + cell + "</td>")) << cell;
  }
  EXPECT_TRUE(contains(html, "<th class=\"num\">numbers</th><th>text</th>"));
}

// ---- errors ------------------------------------------------------------------------

TEST(Report, MissingFigureIsAUserErrorNamingIt) {
  TempDir dir("anila_report");
  Report r("T");
  r.paragraph("x").figure("missing_fig.png", "gone");
  const std::string msg = user_error_message([&] { r.write(dir.str()); });
  EXPECT_TRUE(contains(msg, "missing_fig.png")) << msg;
  EXPECT_FALSE(contains(msg, "\n")) << msg;
  EXPECT_TRUE(dir.entries().empty()) << "nothing is written when a figure is missing";
  // The markdown alone does not need the file.
  EXPECT_TRUE(contains(r.markdown(), "![gone](missing_fig.png)"));
}

TEST(Report, NonPngFigureIsAUserError) {
  TempDir dir("anila_report");
  write_bytes(dir / "fake.png", "GIF89a\x01\x00\x01\x00");
  write_bytes(dir / "short.png", "\x89PNG");  // a truncated signature
  for (const std::string name : {"fake.png", "short.png"}) {
    Report r("T");
    r.figure(name, "not a png");
    const std::string msg = user_error_message([&] { r.write(dir.str()); });
    EXPECT_TRUE(contains(msg, name)) << msg;
    EXPECT_TRUE(contains(msg, "PNG")) << msg;
    EXPECT_FALSE(contains(msg, "\n")) << msg;
  }
  EXPECT_EQ(dir.entries(), (std::vector<std::string>{"fake.png", "short.png"}));
}

}  // namespace
