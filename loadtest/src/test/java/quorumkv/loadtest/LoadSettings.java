package quorumkv.loadtest;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.OptionalInt;

/**
 * The settings every simulation reads from Java system properties ({@code -Dname=value} on the
 * {@code mvn} command line; the Gatling plugin copies them into its forked JVM).
 *
 * <p>Each simulation passes its own defaults for {@code users} and {@code duration} (the smoke
 * simulation is short by default); everything else has the same default everywhere.
 */
public final class LoadSettings {

  /** The six nodes that {@code ./kv up} starts. */
  public static final String DEFAULT_NODES =
      "http://127.0.0.1:8000,http://127.0.0.1:8001,http://127.0.0.1:8002,"
          + "http://127.0.0.1:8003,http://127.0.0.1:8004,http://127.0.0.1:8005";

  /** Concurrent virtual users, each a closed loop (next request when the previous finished). */
  public final int users;
  /** Seconds each user keeps sending requests. */
  public final int duration;
  /** Per-request write quorum ({@code ?w=}); empty = the cluster's WRITE_QUORUM. */
  public final OptionalInt w;
  /** Number of distinct keys the requests pick from at random. */
  public final int keys;
  /** Bytes in each written value (ASCII). */
  public final int valueSize;
  /** Base URLs of the nodes; requests go to them round-robin, one request after another. */
  public final List<String> nodes;
  /** Prefix of every key: {@code <prefix><n>} with n in [0, keys). */
  public final String keyPrefix;
  /** Percentage of reads in {@code ReadWriteMixSimulation}. */
  public final int readPercent;
  /** Read consistency ({@code ?consistency=}) for GETs; empty = the server's default (local). */
  public final String consistency;
  /** The run fails (non-zero exit) if fewer than this percentage of requests succeeded. */
  public final double minSuccessPercent;

  private LoadSettings(int defaultUsers, int defaultDuration) {
    users = positiveInt("users", defaultUsers);
    duration = positiveInt("duration", defaultDuration);
    String wText = System.getProperty("w", "").trim();
    if (wText.isEmpty()) {
      w = OptionalInt.empty();
    } else {
      int value = parseInt("w", wText);
      if (value < 0) {
        throw new IllegalArgumentException("-Dw must be >= 0, got " + value);
      }
      w = OptionalInt.of(value);
    }
    keys = positiveInt("keys", 100);
    valueSize = positiveInt("valueSize", 100);
    nodes = parseNodes(System.getProperty("nodes", DEFAULT_NODES));
    keyPrefix = System.getProperty("keyPrefix", "load-");
    if (keyPrefix.contains("/") || keyPrefix.contains("?") || keyPrefix.contains("#")) {
      throw new IllegalArgumentException("-DkeyPrefix must not contain '/', '?' or '#': " + keyPrefix);
    }
    readPercent = parseInt("readPercent", System.getProperty("readPercent", "90").trim());
    if (readPercent < 0 || readPercent > 100) {
      throw new IllegalArgumentException("-DreadPercent must be in [0, 100], got " + readPercent);
    }
    consistency = System.getProperty("consistency", "").trim();
    String minSuccess = System.getProperty("minSuccessPercent", "95").trim();
    try {
      minSuccessPercent = Double.parseDouble(minSuccess);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("-DminSuccessPercent is not a number: " + minSuccess, e);
    }
  }

  /** Reads the settings; {@code users} and {@code duration} default to the given values. */
  public static LoadSettings fromSystemProperties(int defaultUsers, int defaultDuration) {
    return new LoadSettings(defaultUsers, defaultDuration);
  }

  /** Name used for the node at {@code index} in {@link #nodes}: node0, node1, ... */
  public static String nodeName(int index) {
    return "node" + index;
  }

  /** One line with every effective setting, printed at the start of each simulation. */
  public String describe(String simulation) {
    return String.format(Locale.ROOT,
        "[quorumkv-loadtest] %s settings: users=%d duration=%ds w=%s keys=%d valueSize=%d "
            + "keyPrefix=%s readPercent=%d consistency=%s minSuccessPercent=%s nodes=%s",
        simulation, users, duration, w.isPresent() ? Integer.toString(w.getAsInt()) : "(cluster default)",
        keys, valueSize, keyPrefix, readPercent, consistency.isEmpty() ? "(server default)" : consistency,
        minSuccessPercent, nodes);
  }

  private static List<String> parseNodes(String text) {
    List<String> result = new ArrayList<>();
    for (String part : text.split(",")) {
      String url = part.trim();
      if (url.isEmpty()) {
        continue;
      }
      if (!url.startsWith("http://") && !url.startsWith("https://")) {
        throw new IllegalArgumentException("-Dnodes entries must be http:// or https:// URLs, got: " + url);
      }
      while (url.endsWith("/")) {
        url = url.substring(0, url.length() - 1);
      }
      result.add(url);
    }
    if (result.isEmpty()) {
      throw new IllegalArgumentException("-Dnodes must name at least one node URL");
    }
    return Collections.unmodifiableList(result);
  }

  private static int positiveInt(String name, int defaultValue) {
    String text = System.getProperty(name, "").trim();
    int value = text.isEmpty() ? defaultValue : parseInt(name, text);
    if (value < 1) {
      throw new IllegalArgumentException("-D" + name + " must be >= 1, got " + value);
    }
    return value;
  }

  private static int parseInt(String name, String text) {
    try {
      return Integer.parseInt(text);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("-D" + name + " is not an integer: " + text, e);
    }
  }
}
