package quorumkv.harness;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.stream.Stream;

/**
 * Each node's stdout and stderr, appended to {@code <dir>/nodeN.log} across restarts, each start
 * marked by a banner line.
 */
public final class NodeLogs {
  private final Path dir;

  NodeLogs(Path dir) {
    this.dir = dir;
  }

  public Path file(int n) {
    return dir.resolve(Cluster.nodeId(n) + ".log");
  }

  void appendBanner(int n, String banner) {
    try {
      Files.writeString(file(n), String.format("%n==== %s ====%n", banner), StandardOpenOption.CREATE,
          StandardOpenOption.APPEND);
    } catch (IOException e) {
      throw new UncheckedIOException("could not write " + file(n), e);
    }
  }

  /** The last {@code lines} lines of node n's log (all its runs). */
  public String tail(int n, int lines) {
    return lastLines(file(n), lines);
  }

  /** The last {@code lines} lines of every node's log, each under a heading. */
  public String tails(int lines) {
    StringBuilder sb = new StringBuilder();
    for (int n = 0; n < Cluster.NODES; n++) {
      sb.append("\n----- ").append(Cluster.nodeId(n)).append(" (").append(file(n)).append("), last ").append(lines)
          .append(" lines -----\n").append(tail(n, lines)).append('\n');
    }
    return sb.toString();
  }

  public boolean contains(int n, String text) {
    return count(n, text) > 0;
  }

  /** How many lines of node n's log (all its runs) contain {@code text}. */
  public long count(int n, String text) {
    if (!Files.exists(file(n))) {
      return 0;
    }
    try (Stream<String> lines = Files.lines(file(n), StandardCharsets.ISO_8859_1)) {
      return lines.filter(l -> l.contains(text)).count();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Copies every node log into {@code target} (the cluster's directory is deleted when it closes). */
  public void copyTo(Path target) {
    try {
      Files.createDirectories(target);
      for (int n = 0; n < Cluster.NODES; n++) {
        if (Files.exists(file(n))) {
          Files.copy(file(n), target.resolve(file(n).getFileName()), StandardCopyOption.REPLACE_EXISTING);
        }
      }
    } catch (IOException e) {
      System.err.println("could not copy node logs to " + target + ": " + e);
    }
  }

  /** The last {@code lines} lines of any text file, or why they cannot be read. */
  public static String lastLines(Path file, int lines) {
    if (!Files.exists(file)) {
      return "(no log)";
    }
    try (Stream<String> s = Files.lines(file, StandardCharsets.ISO_8859_1)) {
      List<String> all = s.toList();
      return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    } catch (IOException | UncheckedIOException e) {
      return "(could not read " + file + ": " + e + ")";
    }
  }
}
