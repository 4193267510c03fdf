package quorumkv.harness;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * Every node on 127.0.0.1: node n serves HTTP on port 9100+n and the cluster protocol on 2750+n.
 * The environment variables {@code HARNESS_HTTP_BASE_PORT} and {@code HARNESS_CLUSTER_BASE_PORT}
 * move both ranges, so that two checkouts can run their multi-JVM tests at once.
 */
public final class Loopback implements Placement {
  public static final String HOST = "127.0.0.1";
  public static final int HTTP_BASE_PORT = basePort("HARNESS_HTTP_BASE_PORT", 9100);
  public static final int CLUSTER_BASE_PORT = basePort("HARNESS_CLUSTER_BASE_PORT", 2750);
  private static final Duration PORTS_FREE = Duration.ofSeconds(30);

  @Override
  public String name() {
    return "loopback";
  }

  @Override
  public void open() {}

  @Override
  public URI uri(int n) {
    return URI.create("http://" + HOST + ":" + (HTTP_BASE_PORT + n));
  }

  @Override
  public Map<String, String> addresses(int n) {
    return Map.of(
        "HTTP_HOST", HOST,
        "HTTP_PORT", String.valueOf(HTTP_BASE_PORT + n),
        "CLUSTER_HOST", HOST,
        "CLUSTER_PORT", String.valueOf(CLUSTER_BASE_PORT + n),
        "SEED_NODES", IntStream.range(0, Cluster.SEEDS).mapToObj(i -> HOST + ":" + (CLUSTER_BASE_PORT + i))
            .collect(Collectors.joining(",")));
  }

  @Override
  public List<String> launcher(int n) {
    return List.of();
  }

  /** Six JVMs share the machine's cores with the test: C1 only starts them faster. */
  @Override
  public List<String> jvmOptions() {
    return List.of("-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss4m");
  }

  /** A restarted node reuses its ports; the kernel may hold them briefly after a kill. */
  @Override
  public void beforeStart(int n) {
    int http = HTTP_BASE_PORT + n;
    int cluster = CLUSTER_BASE_PORT + n;
    Await.until("ports " + http + " and " + cluster + " on " + HOST + " are free for " + Cluster.nodeId(n)
            + " (another process is listening: this placement reserves " + this + ")",
        PORTS_FREE, () -> portFree(http) && portFree(cluster), () -> "in use");
  }

  @Override
  public void afterStart(int n, Process jvm) {}

  @Override
  public void close() {}

  private static boolean portFree(int port) {
    try (ServerSocket s = new ServerSocket()) {
      s.setReuseAddress(true);
      s.bind(new InetSocketAddress(InetAddress.getByName(HOST), port));
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  @Override
  public String toString() {
    return "loopback " + HOST + ", HTTP " + HTTP_BASE_PORT + "-" + (HTTP_BASE_PORT + Cluster.NODES - 1) + ", cluster "
        + CLUSTER_BASE_PORT + "-" + (CLUSTER_BASE_PORT + Cluster.NODES - 1);
  }

  private static int basePort(String variable, int otherwise) {
    String value = System.getenv(variable);
    return value == null || value.isBlank() ? otherwise : Integer.parseInt(value.trim());
  }
}
