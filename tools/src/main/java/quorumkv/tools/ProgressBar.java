package quorumkv.tools;

import java.io.PrintStream;

/** A one-line progress bar redrawn in place with carriage returns, e.g. {@code [####......]  4000/10000  1234 w/s}. */
final class ProgressBar {

  private static final int WIDTH = 40;

  private final PrintStream terminal;
  private final int total;
  private final String rateUnit;
  private final long startNanos;

  ProgressBar(PrintStream terminal, int total, String rateUnit, long startNanos) {
    this.terminal = terminal;
    this.total = total;
    this.rateUnit = rateUnit;
    this.startNanos = startNanos;
  }

  void draw(int completed, long nowNanos) {
    int filled = (int) ((long) WIDTH * completed / total);
    double seconds = (nowNanos - startNanos) / 1e9;
    long rate = seconds > 0 ? Math.round(completed / seconds) : 0;
    String counter = String.format("%" + String.valueOf(total).length() + "d/%d", completed, total);
    terminal.print("\r[" + "#".repeat(filled) + ".".repeat(WIDTH - filled) + "]  "
        + counter + "  " + rate + " " + rateUnit + "   ");
    terminal.flush();
  }

  void finish(int completed, long nowNanos) {
    draw(completed, nowNanos);
    terminal.println();
  }
}
