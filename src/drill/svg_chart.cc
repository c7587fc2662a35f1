#include "drill/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

namespace floe::drill {
namespace {

constexpr double kWidth = 1000, kHeight = 560;
constexpr double kLeft = 70, kRight = 20, kTop = 40;
constexpr double kPanelHeight = 200, kPanelGap = 60;

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string escape_xml(const std::string& s) {
  std::string out;
  for (char c : s) {
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
      default:
        out += c;
    }
  }
  return out;
}

struct Panel {
  double top;
  double y_max;
  double y(double v) const { return top + kPanelHeight - std::clamp(v / y_max, 0.0, 1.0) * kPanelHeight; }
};

void axes(std::ostream& out, const Panel& p, const std::string& title, const std::string& unit, double t_max_s) {
  const double plot_w = kWidth - kLeft - kRight;
  out << "<rect x=\"" << kLeft << "\" y=\"" << p.top << "\" width=\"" << plot_w << "\" height=\"" << kPanelHeight
      << "\" fill=\"none\" stroke=\"#888\"/>\n";
  out << "<text x=\"" << kLeft << "\" y=\"" << fmt(p.top - 8) << "\" font-size=\"13\">" << escape_xml(title)
      << "</text>\n";
  for (int i = 0; i <= 4; ++i) {
    const double v = p.y_max * i / 4;
    const double y = p.y(v);
    out << "<line x1=\"" << kLeft << "\" x2=\"" << kWidth - kRight << "\" y1=\"" << fmt(y) << "\" y2=\"" << fmt(y)
        << "\" stroke=\"#eee\"/>\n";
    char label[48];
    std::snprintf(label, sizeof label, "%g %s", v, unit.c_str());
    out << "<text x=\"" << kLeft - 4 << "\" y=\"" << fmt(y + 4) << "\" font-size=\"10\" text-anchor=\"end\">"
        << escape_xml(label) << "</text>\n";
  }
  const double step = nice_ceiling(t_max_s / 10);
  for (double t = 0; t <= t_max_s + 1e-9; t += step) {
    const double x = kLeft + plot_w * (t_max_s > 0 ? t / t_max_s : 0);
    out << "<text x=\"" << fmt(x) << "\" y=\"" << fmt(p.top + kPanelHeight + 14)
        << "\" font-size=\"10\" text-anchor=\"middle\">" << t << " s</text>\n";
  }
}

void polyline(std::ostream& out, const std::vector<std::pair<double, double>>& pts, const char* color) {
  if (pts.empty()) return;
  out << "<polyline fill=\"none\" stroke=\"" << color << "\" stroke-width=\"1.5\" points=\"";
  for (const auto& [x, y] : pts) out << fmt(x) << "," << fmt(y) << " ";
  out << "\"/>\n";
}

}  // namespace

double nice_ceiling(double v) {
  if (!(v > 0)) return 1;
  const double mag = std::pow(10.0, std::floor(std::log10(v)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * mag >= v * (1 - 1e-12)) return m * mag;
  }
  return 10 * mag;
}

void write_svg(std::ostream& out, const std::vector<Second>& timeline, const std::vector<Event>& events,
               int record_bytes) {
  const double mib = 1024.0 * 1024.0;
  double t_max_ms = 1000;
  for (const auto& s : timeline) t_max_ms = std::max(t_max_ms, static_cast<double>(s.t_ms));
  for (const auto& e : events) t_max_ms = std::max(t_max_ms, static_cast<double>(e.t_ms));
  double tput_max = 0, p99_max = 0;
  for (const auto& s : timeline) {
    tput_max = std::max({tput_max, s.acked * record_bytes / mib, s.consumed * record_bytes / mib});
    p99_max = std::max(p99_max, s.p99_ms);
  }
  const Panel tput{kTop, nice_ceiling(tput_max)};
  const Panel lat{kTop + kPanelHeight + kPanelGap, nice_ceiling(p99_max)};
  const double plot_w = kWidth - kLeft - kRight;
  auto x_of = [&](double t_ms) { return kLeft + plot_w * (t_ms / t_max_ms); };

  out << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kWidth << "\" height=\"" << kHeight
      << "\" viewBox=\"0 0 " << kWidth << " " << kHeight << "\" font-family=\"sans-serif\">\n";
  out << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  axes(out, tput, "Throughput (MiB/s): acked (blue), consumed (green)", "", t_max_ms / 1000);
  axes(out, lat, "Produce latency p99 (ms)", "", t_max_ms / 1000);

  std::vector<std::pair<double, double>> acked, consumed, p99;
  for (const auto& s : timeline) {
    const double x = x_of(static_cast<double>(s.t_ms));
    acked.emplace_back(x, tput.y(s.acked * record_bytes / mib));
    consumed.emplace_back(x, tput.y(s.consumed * record_bytes / mib));
    p99.emplace_back(x, lat.y(s.p99_ms));
  }
  polyline(out, acked, "#1f77b4");
  polyline(out, consumed, "#2ca02c");
  polyline(out, p99, "#d62728");

  // Events: a dashed line over both panels; labels staggered on three rows so neighbours do not overlap.
  for (std::size_t i = 0; i < events.size(); ++i) {
    const double x = x_of(static_cast<double>(events[i].t_ms));
    out << "<line x1=\"" << fmt(x) << "\" x2=\"" << fmt(x) << "\" y1=\"" << tput.top << "\" y2=\""
        << lat.top + kPanelHeight << "\" stroke=\"#555\" stroke-dasharray=\"4,3\"/>\n";
    const double y = tput.top + 12 + 12 * static_cast<double>(i % 3);
    out << "<text x=\"" << fmt(x + 3) << "\" y=\"" << fmt(y) << "\" font-size=\"10\" fill=\"#333\">"
        << escape_xml(events[i].label) << "</text>\n";
  }
  out << "</svg>\n";
}

}  // namespace floe::drill
