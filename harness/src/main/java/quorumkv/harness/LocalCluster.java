package quorumkv.harness;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalTime;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * Six quorumkv nodes as real JVMs on 127.0.0.1 (HTTP 9100-9105, cluster 2750-2755), each with
 * its own SQLite directory under one temporary directory, for multi-JVM tests. {@link #kill} is
 * SIGKILL. Every wait is a poll on an explicit condition with a deadline.
 *
 * <p>Every JVM it starts is stopped by {@link #close()} and, should the test JVM exit without it,
 * by a shutdown hook. Each node's stdout and stderr are appended to {@code <dir>/nodeN.log},
 * across restarts.
 */
public final class LocalCluster implements AutoCloseable {
  public static final int NODES = 6;
  public static final int HTTP_BASE_PORT = 9100;
  public static final int CLUSTER_BASE_PORT = 2750;
  private static final String HOST = "127.0.0.1";
  private static final Duration POLL_INTERVAL = Duration.ofMillis(200);
  private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(20);

  /** Settings the nodes read from the environment; removed from the inherited environment first. */
  private static final List<String> NODE_ENV = List.of(
      "NODE_ID", "HTTP_HOST", "HTTP_PORT", "ASK_TIMEOUT", "CLUSTER_HOST", "CLUSTER_BIND_HOST", "CLUSTER_PORT",
      "SEED_NODES", "DATA_DIR", "SQLITE_SYNCHRONOUS", "WRITE_QUORUM", "FOLLOWERS", "REPLICATION_TIMEOUT",
      "MIN_DELAY", "MAX_DELAY", "RETAINED_ENTRIES", "SNAPSHOT_EVERY", "MAX_KEY_BYTES", "MAX_VALUE_BYTES",
      "JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS");

  /** An HTTP answer: status and parsed JSON body (a text node if the body is not JSON). */
  public record Response(int status, JsonNode body) {
    public boolean ok() {
      return status == 200;
    }

    @Override
    public String toString() {
      return status + " " + body;
    }
  }

  private final Path jar;
  private final Path dir;
  private final int writeQuorum;
  private final int retainedEntries;
  private final String replicationTimeout;
  private final Process[] processes = new Process[NODES];
  private final int[] starts = new int[NODES];
  private final ExecutorService httpExecutor;
  private final HttpClient http;
  private final ObjectMapper mapper = new ObjectMapper();
  private final Thread shutdownHook;
  private boolean closed;

  public LocalCluster(Path jar, int writeQuorum, int retainedEntries, String replicationTimeout) {
    if (!Files.isRegularFile(jar)) {
      throw new IllegalStateException("quorumkv jar not found at " + jar + ": run `mvn package` first");
    }
    this.writeQuorum = writeQuorum;
    this.retainedEntries = retainedEntries;
    this.replicationTimeout = replicationTimeout;
    try {
      this.dir = Files.createTempDirectory("quorumkv-it-");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    try {
      // The nodes run a private copy: a concurrent `mvn package` rewrites target/quorumkv.jar,
      // and a JVM whose jar changes under it fails to load its next class.
      this.jar = Files.copy(jar, dir.resolve("quorumkv.jar"));
    } catch (IOException e) {
      deleteRecursively(dir);
      throw new UncheckedIOException("could not copy " + jar + " to " + dir, e);
    }
    this.httpExecutor = Executors.newFixedThreadPool(8, r -> {
      Thread t = new Thread(r, "local-cluster-http");
      t.setDaemon(true);
      return t;
    });
    this.http = HttpClient.newBuilder()
        .version(HttpClient.Version.HTTP_1_1)
        .connectTimeout(Duration.ofSeconds(5))
        .executor(httpExecutor)
        .build();
    this.shutdownHook = new Thread(this::destroyAll, "local-cluster-shutdown");
    Runtime.getRuntime().addShutdownHook(shutdownHook);
  }

  /** The jar failsafe passes as {@code -Dquorumkv.jar}, else {@code target/quorumkv.jar}. */
  public static Path jarFromSystemProperty() {
    return Path.of(System.getProperty("quorumkv.jar", "target/quorumkv.jar"));
  }

  public Path dir() {
    return dir;
  }

  public static String nodeId(int n) {
    return "node" + n;
  }

  public static int httpPort(int n) {
    return HTTP_BASE_PORT + n;
  }

  /** Node n's HTTP base URL, e.g. {@code http://127.0.0.1:9100}. */
  public static String baseUrl(int n) {
    return "http://" + HOST + ":" + httpPort(n);
  }

  public Path logFile(int n) {
    return dir.resolve(nodeId(n) + ".log");
  }

  // --- processes ---

  public synchronized void start(int n) {
    checkNode(n);
    if (closed) {
      throw new IllegalStateException("cluster is closed");
    }
    if (isRunning(n)) {
      throw new IllegalStateException(nodeId(n) + " is already running (pid " + processes[n].pid() + ")");
    }
    awaitPortsFree(n, Duration.ofSeconds(30));
    String seeds = HOST + ":" + CLUSTER_BASE_PORT + "," + HOST + ":" + (CLUSTER_BASE_PORT + 1) + ","
        + HOST + ":" + (CLUSTER_BASE_PORT + 2);
    ProcessBuilder pb = new ProcessBuilder(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-jar", jar.toString());
    pb.directory(dir.toFile());
    NODE_ENV.forEach(pb.environment()::remove);
    pb.environment().put("NODE_ID", nodeId(n));
    pb.environment().put("HTTP_HOST", HOST);
    pb.environment().put("HTTP_PORT", String.valueOf(httpPort(n)));
    pb.environment().put("CLUSTER_HOST", HOST);
    pb.environment().put("CLUSTER_PORT", String.valueOf(CLUSTER_BASE_PORT + n));
    pb.environment().put("SEED_NODES", seeds);
    pb.environment().put("DATA_DIR", dir.resolve(nodeId(n)).toString());
    pb.environment().put("WRITE_QUORUM", String.valueOf(writeQuorum));
    pb.environment().put("FOLLOWERS", String.valueOf(NODES - 1));
    pb.environment().put("RETAINED_ENTRIES", String.valueOf(retainedEntries));
    pb.environment().put("REPLICATION_TIMEOUT", replicationTimeout);
    Path log = logFile(n);
    starts[n]++;
    try {
      Files.writeString(log, String.format("%n==== LocalCluster: %s start #%d at %s ====%n",
              nodeId(n), starts[n], LocalTime.now()),
          StandardOpenOption.CREATE, StandardOpenOption.APPEND);
      pb.redirectErrorStream(true);
      pb.redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
      processes[n] = pb.start();
    } catch (IOException e) {
      throw new UncheckedIOException("could not start " + nodeId(n), e);
    }
  }

  public void startAll() {
    for (int n = 0; n < NODES; n++) {
      start(n);
    }
  }

  /** kill -9, and wait until the process is gone. */
  public synchronized void kill(int n) {
    checkNode(n);
    Process p = processes[n];
    if (p == null) {
      return;
    }
    p.destroyForcibly();
    try {
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        throw new IllegalStateException(nodeId(n) + " (pid " + p.pid() + ") still alive 30 s after SIGKILL");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while killing " + nodeId(n), e);
    }
    processes[n] = null;
  }

  public void killAll() {
    for (int n = 0; n < NODES; n++) {
      kill(n);
    }
  }

  public synchronized boolean isRunning(int n) {
    return processes[n] != null && processes[n].isAlive();
  }

  // --- waits ---

  /** Polls {@code condition} until it holds; fails with {@code what} and {@code detail} (the last state seen). */
  public void await(String what, Duration timeout, Supplier<Boolean> condition, Supplier<String> detail) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      if (Boolean.TRUE.equals(condition.get())) {
        return;
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out after " + timeout.toSeconds() + " s waiting until " + what
            + "; last seen: " + detail.get());
      }
      sleepPoll();
    }
  }

  /** Waits until node n answers 200 on GET /ready; fails at once if its JVM exits. */
  public void awaitReady(int n, Duration timeout) {
    Response[] last = new Response[1];
    await(nodeId(n) + " is ready (GET /ready answers 200)", timeout, () -> {
      if (!isRunning(n)) {
        throw new AssertionError(nodeId(n) + " exited while waiting for it to become ready:\n" + logTail(n, 60));
      }
      last[0] = request(n, "GET", "/ready", null);
      return last[0].ok();
    }, () -> String.valueOf(last[0]));
  }

  public void awaitAllReady(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    for (int n = 0; n < NODES; n++) {
      awaitReady(n, Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
    }
  }

  /**
   * Waits until every node in {@code nodes} reports the same lastIndex and digest on /status as
   * {@code reference} does, and returns that reference status.
   */
  public JsonNode awaitSameState(int reference, int[] nodes, Duration timeout) {
    JsonNode[] ref = new JsonNode[1];
    StringBuilder seen = new StringBuilder();
    await("nodes " + java.util.Arrays.toString(nodes) + " have node" + reference
        + "'s lastIndex and digest", timeout, () -> {
      seen.setLength(0);
      Response r = request(reference, "GET", "/status", null);
      if (!r.ok()) {
        seen.append(nodeId(reference)).append(": ").append(r);
        return false;
      }
      ref[0] = r.body();
      boolean same = true;
      seen.append(positionOf(reference, r.body()));
      for (int n : nodes) {
        Response s = request(n, "GET", "/status", null);
        seen.append("; ").append(s.ok() ? positionOf(n, s.body()) : nodeId(n) + ": " + s);
        same &= s.ok()
            && s.body().path("lastIndex").asLong(-1) == r.body().path("lastIndex").asLong(-2)
            && s.body().path("digest").asText("a").equals(r.body().path("digest").asText("b"));
      }
      return same;
    }, seen::toString);
    return ref[0];
  }

  private static String positionOf(int n, JsonNode status) {
    return nodeId(n) + " lastIndex=" + status.path("lastIndex").asText() + " digest=" + status.path("digest").asText();
  }

  // --- HTTP ---

  /** PUT /kv/{key}; {@code w == null} uses the cluster's default quorum. */
  public Response put(int n, String key, String value, Integer w) {
    return request(n, "PUT", "/kv/" + encode(key) + (w == null ? "" : "?w=" + w), value);
  }

  public Response get(int n, String key) {
    return request(n, "GET", "/kv/" + encode(key), null);
  }

  /** GET /status; fails if the node does not answer 200. */
  public JsonNode status(int n) {
    Response r = request(n, "GET", "/status", null);
    if (!r.ok()) {
      throw new AssertionError(nodeId(n) + " GET /status answered " + r);
    }
    return r.body();
  }

  /** GET /status for polling: a missing node (empty JSON object) rather than a failure. */
  public JsonNode statusOrEmpty(int n) {
    Response r = request(n, "GET", "/status", null);
    return r.ok() ? r.body() : mapper.createObjectNode();
  }

  /** One request; a connection failure or timeout is reported as status -1 with the exception as body. */
  public Response request(int n, String method, String pathAndQuery, String body) {
    checkNode(n);
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://" + HOST + ":" + httpPort(n) + pathAndQuery))
        .timeout(REQUEST_TIMEOUT);
    if (body != null) {
      b.method(method, HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8))
          .header("Content-Type", "text/plain; charset=UTF-8");
    } else {
      b.method(method, HttpRequest.BodyPublishers.noBody());
    }
    try {
      HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
      return new Response(r.statusCode(), parse(r.body()));
    } catch (IOException e) {
      return new Response(-1, mapper.getNodeFactory().textNode(e.toString()));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  private JsonNode parse(String body) {
    try {
      return mapper.readTree(body);
    } catch (IOException e) {
      return mapper.getNodeFactory().textNode(body);
    }
  }

  private static String encode(String key) {
    return URLEncoder.encode(key, StandardCharsets.UTF_8).replace("+", "%20");
  }

  // --- logs ---

  /** The last {@code lines} lines of node n's log (all its runs). */
  public String logTail(int n, int lines) {
    Path log = logFile(n);
    if (!Files.exists(log)) {
      return "(no log)";
    }
    try (Stream<String> s = Files.lines(log, StandardCharsets.ISO_8859_1)) {
      List<String> all = s.toList();
      return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    } catch (IOException | UncheckedIOException e) {
      return "(could not read " + log + ": " + e + ")";
    }
  }

  public String logTails(int lines) {
    StringBuilder sb = new StringBuilder();
    for (int n = 0; n < NODES; n++) {
      sb.append("\n----- ").append(nodeId(n)).append(" (").append(logFile(n)).append("), last ").append(lines)
          .append(" lines -----\n").append(logTail(n, lines)).append('\n');
    }
    return sb.toString();
  }

  public boolean logContains(int n, String text) {
    try {
      return Files.exists(logFile(n)) && Files.readString(logFile(n), StandardCharsets.ISO_8859_1).contains(text);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** How many lines of node n's log (all its runs) contain {@code text}. */
  public long logCount(int n, String text) {
    if (!Files.exists(logFile(n))) {
      return 0;
    }
    try (Stream<String> lines = Files.lines(logFile(n), StandardCharsets.ISO_8859_1)) {
      return lines.filter(l -> l.contains(text)).count();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Copies every node log to {@code target} (for a failed run, before {@link #close()} deletes them). */
  public void copyLogsTo(Path target) {
    try {
      Files.createDirectories(target);
      for (int n = 0; n < NODES; n++) {
        if (Files.exists(logFile(n))) {
          Files.copy(logFile(n), target.resolve(logFile(n).getFileName()), StandardCopyOption.REPLACE_EXISTING);
        }
      }
    } catch (IOException e) {
      System.err.println("could not copy node logs to " + target + ": " + e);
    }
  }

  // --- shutdown ---

  /** Stops every JVM this cluster started (SIGKILL), then deletes the temporary directory. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    destroyAll();
    try {
      Runtime.getRuntime().removeShutdownHook(shutdownHook);
    } catch (IllegalStateException e) {
      // the JVM is already shutting down: the hook runs anyway
    }
    httpExecutor.shutdownNow();
    deleteRecursively(dir);
  }

  private void destroyAll() {
    List<Process> alive = new ArrayList<>();
    for (Process p : processes) {
      if (p != null && p.isAlive()) {
        p.destroyForcibly();
        alive.add(p);
      }
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    for (Process p : alive) {
      try {
        p.waitFor(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  private static void deleteRecursively(Path root) {
    if (!Files.exists(root)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(root)) {
      paths.sorted(Comparator.reverseOrder()).forEach(p -> {
        try {
          Files.deleteIfExists(p);
        } catch (IOException e) {
          System.err.println("could not delete " + p + ": " + e);
        }
      });
    } catch (IOException e) {
      System.err.println("could not delete " + root + ": " + e);
    }
  }

  // --- helpers ---

  /** A restarted node reuses its ports; the kernel may hold them briefly after a kill. */
  private void awaitPortsFree(int n, Duration timeout) {
    int[] ports = {httpPort(n), CLUSTER_BASE_PORT + n};
    await("ports " + ports[0] + " and " + ports[1] + " on " + HOST + " are free for " + nodeId(n)
            + " (another process is listening: this test reserves 9100-9105 and 2750-2755)",
        timeout, () -> portFree(ports[0]) && portFree(ports[1]), () -> "in use");
  }

  private static boolean portFree(int port) {
    try (ServerSocket s = new ServerSocket()) {
      s.setReuseAddress(true);
      s.bind(new java.net.InetSocketAddress(InetAddress.getByName(HOST), port));
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  private static void checkNode(int n) {
    if (n < 0 || n >= NODES) {
      throw new IllegalArgumentException("no node " + n + "; nodes are 0.." + (NODES - 1));
    }
  }

  private static void sleepPoll() {
    try {
      Thread.sleep(POLL_INTERVAL.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting", e);
    }
  }

  /** For log lines: seconds since {@code start}, one decimal. */
  public static String secondsSince(Instant start) {
    return String.format("%.1f s", Duration.between(start, Instant.now()).toMillis() / 1000.0);
  }

  @Override
  public String toString() {
    return "LocalCluster(" + dir + ", jar " + jar + ", W=" + writeQuorum + ")";
  }
}
