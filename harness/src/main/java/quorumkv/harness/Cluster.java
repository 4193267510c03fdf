package quorumkv.harness;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.IntStream;

/**
 * Six quorumkv nodes as real JVMs, started from a private copy of the node's jar, each with its
 * own data directory and log under one temporary directory. The {@link Placement} decides where
 * they run and how they reach each other: {@link #onLoopback} for 127.0.0.1,
 * {@link #inNetworkNamespaces} for a namespace per node with partitions.
 *
 * <p>Every JVM it starts is stopped by {@link #close()}, by a failed construction and, should this
 * JVM exit without either, by a shutdown hook. Every wait polls an explicit condition with a
 * deadline. The nodes get none of their settings from this process's environment: only their
 * addresses, the cluster's size and what the caller passes (e.g. {@code WRITE_QUORUM}); every
 * other setting keeps the default of the jar's {@code application.conf}.
 *
 * @param <P> the placement, for what only it can do (e.g. {@link NetworkNamespaces#partition})
 */
public final class Cluster<P extends Placement> implements AutoCloseable {
  public static final int NODES = 6;
  /**
   * Every node is a seed node; node0, the first, forms the cluster when no other answers. With only
   * some nodes as seeds, a first seed restarted while the other seeds were down too formed a
   * second cluster of its own beside the running nodes (AvailabilityIT).
   */
  static final int SEEDS = NODES;
  /** What the harness tells each node besides its addresses; a caller may not set these. */
  private static final Set<String> OWN_SETTINGS = Set.of("NODE_ID", "DATA_DIR", "FOLLOWERS");
  private static final Duration KILLED = Duration.ofSeconds(30);
  /** Short: polls repeat, and a paused node must not hold a poll up for long. */
  private static final Duration POLL_REQUEST_TIMEOUT = Duration.ofSeconds(3);

  private final P placement;
  private final NodeSettings nodeSettings;
  private final Map<String, String> settings;
  private final NodeClient http = new NodeClient(POLL_REQUEST_TIMEOUT);
  private final Process[] processes = new Process[NODES];
  private final boolean[] paused = new boolean[NODES];
  private final int[] starts = new int[NODES];
  private final Thread shutdownHook;
  private final Path dir;
  private final Path jar;
  private final NodeLogs logs;
  private boolean closed;
  private boolean tornDown;

  /** Six nodes on 127.0.0.1 (HTTP 9100-9105, cluster 2750-2755); none started yet. */
  public static Cluster<Loopback> onLoopback(Path jar, Map<String, String> settings) {
    return new Cluster<>(jar, settings, new Loopback());
  }

  /**
   * Six nodes, each in a network namespace of its own (needs root); none started yet. Waits up to
   * {@code lockWait} for another such cluster on this machine to finish.
   */
  public static Cluster<NetworkNamespaces> inNetworkNamespaces(Path jar, Map<String, String> settings,
      Duration lockWait) {
    return new Cluster<>(jar, settings, new NetworkNamespaces(lockWait));
  }

  /**
   * Opens the placement and copies the jar into a new temporary directory; starts no node.
   * {@code settings} are node environment variables (e.g. {@code WRITE_QUORUM=2}) for every node.
   */
  public Cluster(Path jar, Map<String, String> settings, P placement) {
    if (!Files.isRegularFile(jar)) {
      throw new IllegalStateException("quorumkv jar not found at " + jar + ": run `mvn -B package -DskipTests` first");
    }
    this.placement = placement;
    this.nodeSettings = NodeSettings.of(jar);
    this.settings = Map.copyOf(settings);
    nodeSettings.check(this.settings);
    Set<String> ours = new TreeSet<>(placement.addresses(0).keySet());
    ours.addAll(OWN_SETTINGS);
    if (this.settings.keySet().stream().anyMatch(ours::contains)) {
      throw new IllegalArgumentException("the harness sets " + ours + " itself; got " + this.settings.keySet());
    }
    this.shutdownHook = new Thread(this::tearDown, "cluster-shutdown");
    Runtime.getRuntime().addShutdownHook(shutdownHook);
    Path tmp = null;
    try {
      placement.open();
      tmp = Files.createTempDirectory(tempDirPrefix(placement.name()));
      // The nodes run a private copy: a concurrent `mvn package` rewrites target/quorumkv.jar,
      // and a JVM whose jar changes under it fails to load its next class.
      this.jar = Files.copy(jar, tmp.resolve("quorumkv.jar"));
      this.dir = tmp;
      this.logs = new NodeLogs(tmp);
    } catch (IOException | RuntimeException e) {
      placement.close();
      FileTrees.delete(tmp);
      removeShutdownHook();
      if (e instanceof IOException io) {
        throw new UncheckedIOException("could not prepare " + placement.name() + " cluster", io);
      }
      throw (RuntimeException) e;
    }
  }

  /** The jar failsafe passes as {@code -Dquorumkv.jar}, else {@code target/quorumkv.jar}. */
  public static Path jarFromSystemProperty() {
    return Path.of(System.getProperty("quorumkv.jar", "target/quorumkv.jar"));
  }

  static String tempDirPrefix(String placementName) {
    return "quorumkv-" + placementName + "-";
  }

  public static String nodeId(int n) {
    return "node" + n;
  }

  /** The node with this id ("node3" → 3), or -1. */
  public static int nodeIndex(String nodeId) {
    if (nodeId != null && nodeId.matches("node\\d")) {
      int n = nodeId.charAt(4) - '0';
      return n < NODES ? n : -1;
    }
    return -1;
  }

  static void checkNode(int n) {
    if (n < 0 || n >= NODES) {
      throw new IllegalArgumentException("no node " + n + "; nodes are 0.." + (NODES - 1));
    }
  }

  public P placement() {
    return placement;
  }

  public Path dir() {
    return dir;
  }

  public NodeLogs logs() {
    return logs;
  }

  /** Node n's HTTP base URI, for {@link NodeClient}. */
  public URI uri(int n) {
    checkNode(n);
    return placement.uri(n);
  }

  // --- processes ---

  /** Starts node n's JVM (it must not be running). */
  public synchronized void start(int n) {
    checkNode(n);
    if (closed) {
      throw new IllegalStateException("cluster is closed");
    }
    if (isRunning(n)) {
      throw new IllegalStateException(nodeId(n) + " is already running (pid " + processes[n].pid() + ")");
    }
    placement.beforeStart(n);
    List<String> command = new ArrayList<>(placement.launcher(n));
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(placement.jvmOptions());
    command.addAll(List.of("-jar", jar.toString()));
    ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(logs.file(n).toFile()));
    Map<String, String> env = new HashMap<>(harnessSettings(n));
    env.putAll(settings);
    nodeSettings.apply(pb.environment(), env);
    starts[n]++;
    logs.appendBanner(n, "Cluster: " + nodeId(n) + " start #" + starts[n] + " at " + LocalTime.now() + " on "
        + placement);
    Process jvm;
    try {
      jvm = pb.start();
    } catch (IOException e) {
      throw new UncheckedIOException("could not start " + nodeId(n), e);
    }
    processes[n] = jvm;
    paused[n] = false;
    try {
      placement.afterStart(n, jvm);
    } catch (RuntimeException e) {
      kill(n);
      throw new IllegalStateException(e.getMessage() + "; its log:\n" + logs.tail(n, 30), e);
    }
  }

  /**
   * What the harness itself tells node n: who it is, where its data lives, its addresses, and
   * how many followers a six-node cluster has (the cluster's shape is the harness's to decide).
   */
  private Map<String, String> harnessSettings(int n) {
    Map<String, String> env = new HashMap<>(placement.addresses(n));
    env.put("NODE_ID", nodeId(n));
    env.put("DATA_DIR", dir.resolve(nodeId(n)).toString());
    env.put("FOLLOWERS", String.valueOf(NODES - 1));
    return env;
  }

  public void startAll() {
    for (int n = 0; n < NODES; n++) {
      start(n);
    }
  }

  /** SIGKILL of node n's JVM (paused or not), and waits until it is gone. No-op if not running. */
  public synchronized void kill(int n) {
    checkNode(n);
    Process p = processes[n];
    if (p == null) {
      return;
    }
    p.destroyForcibly(); // SIGKILL, which also ends a stopped process
    try {
      if (!p.waitFor(KILLED.toMillis(), TimeUnit.MILLISECONDS)) {
        throw new IllegalStateException(nodeId(n) + " (pid " + p.pid() + ") still alive " + KILLED.toSeconds()
            + " s after SIGKILL");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while killing " + nodeId(n), e);
    }
    processes[n] = null;
    paused[n] = false;
  }

  public void killAll() {
    for (int n = 0; n < NODES; n++) {
      kill(n);
    }
  }

  /**
   * SIGKILL of several nodes' JVMs at once: every one is signalled before any is waited for, so
   * that they die together (a crash of several machines), not one after the other. Waits until all
   * are gone; nodes that are not running are skipped.
   */
  public synchronized void killTogether(Collection<Integer> nodes) {
    nodes.forEach(Cluster::checkNode);
    List<Integer> signalled = new ArrayList<>();
    for (int n : nodes) {
      if (processes[n] != null) {
        processes[n].destroyForcibly();
        signalled.add(n);
      }
    }
    for (int n : signalled) {
      kill(n); // already signalled: waits for the exit and clears the handle
    }
  }

  /** SIGSTOP: the JVM freezes, its sockets stay open (peers see silence, not a closed connection). */
  public synchronized void pause(int n) {
    OsCommands.signal(runningPid(n), "-STOP");
    paused[n] = true;
  }

  /** SIGCONT. */
  public synchronized void resume(int n) {
    OsCommands.signal(runningPid(n), "-CONT");
    paused[n] = false;
  }

  private long runningPid(int n) {
    if (!isRunning(n)) {
      throw new IllegalStateException(nodeId(n) + " is not running");
    }
    return processes[n].pid();
  }

  public synchronized boolean isRunning(int n) {
    checkNode(n);
    return processes[n] != null && processes[n].isAlive();
  }

  public synchronized boolean isPaused(int n) {
    return isRunning(n) && paused[n];
  }

  /** Running and not paused: it can answer. */
  public synchronized boolean isLive(int n) {
    return isRunning(n) && !paused[n];
  }

  /**
   * If node n's JVM was started and has exited since (not by {@link #kill}), its exit code, and
   * the handle is cleared so that {@link #start} may run it again; else empty.
   */
  public synchronized Optional<Integer> reapExited(int n) {
    Process p = processes[n];
    if (p == null || p.isAlive()) {
      return Optional.empty();
    }
    processes[n] = null;
    paused[n] = false;
    return Optional.of(p.exitValue());
  }

  /**
   * The nodes whose JVM this cluster started and that has since exited without {@link #kill}
   * (nor {@link #reapExited} clearing it): each with its exit code. Changes nothing.
   */
  public synchronized Map<Integer, Integer> exitedOnTheirOwn() {
    Map<Integer, Integer> exited = new TreeMap<>();
    for (int n = 0; n < NODES; n++) {
      if (processes[n] != null && !processes[n].isAlive()) {
        exited.put(n, processes[n].exitValue());
      }
    }
    return exited;
  }

  public synchronized long pid(int n) {
    return processes[n] == null ? -1 : processes[n].pid();
  }

  /** How often node n has been started. */
  public synchronized int starts(int n) {
    return starts[n];
  }

  /** For reports: each node's state, e.g. {node0=running pid 123, node1=paused pid 456, node2=down}. */
  public synchronized Map<String, String> processStates() {
    Map<String, String> states = new LinkedHashMap<>();
    for (int n = 0; n < NODES; n++) {
      states.put(nodeId(n), processes[n] == null ? "down" : !processes[n].isAlive() ? "exited"
          : (paused[n] ? "paused" : "running") + " pid " + processes[n].pid());
    }
    return states;
  }

  // --- what the nodes say ---

  /** GET /status of node n, or empty if it does not answer 200 within a few seconds. */
  public Optional<JsonNode> status(int n) {
    return http.status(uri(n));
  }

  /** Whether node n answers 200 on GET /ready. */
  public boolean ready(int n) {
    return http.ready(uri(n));
  }

  /** The write quorum W the nodes use by default, from the first node whose /status answers. */
  public OptionalInt writeQuorum() {
    for (int n = 0; n < NODES; n++) {
      Optional<JsonNode> s = isLive(n) ? status(n) : Optional.empty();
      if (s.isPresent() && s.get().path("writeQuorum").isInt()) {
        return OptionalInt.of(s.get().path("writeQuorum").asInt());
      }
    }
    return OptionalInt.empty();
  }

  /** One entry per node: not running, paused, or what /ready answers. */
  public String readiness() {
    StringBuilder sb = new StringBuilder();
    for (int n = 0; n < NODES; n++) {
      sb.append(sb.length() == 0 ? "" : "; ").append(nodeId(n)).append(' ');
      if (!isRunning(n)) {
        sb.append("not running");
      } else if (isPaused(n)) {
        sb.append("paused");
      } else {
        NodeClient.Response r = http.request(uri(n), "GET", "/ready", null);
        sb.append(r.answered() ? r.body().toString() : "no answer");
      }
    }
    return sb.toString();
  }

  // --- waits ---

  /** Waits until node n answers 200 on GET /ready; fails at once if its JVM exits. */
  public void awaitReady(int n, Duration timeout) {
    NodeClient.Response[] last = new NodeClient.Response[1];
    Await.until(nodeId(n) + " is ready (GET /ready answers 200)", timeout, () -> {
      if (!isRunning(n)) {
        throw new IllegalStateException(nodeId(n) + " exited while waiting for it to become ready:\n"
            + logs.tail(n, 60));
      }
      last[0] = http.request(uri(n), "GET", "/ready", null);
      return last[0].ok();
    }, () -> String.valueOf(last[0]));
  }

  /** Waits until all six are ready; fails at once if one exits. */
  public void awaitAllReady(Duration timeout) {
    Deadline deadline = Deadline.in(timeout);
    for (int n = 0; n < NODES; n++) {
      awaitReady(n, deadline.remaining());
    }
  }

  /**
   * Waits until all six are ready, starting again any node whose JVM exits meanwhile (told to
   * {@code log}). False if {@code timeout} passes first.
   *
   * @deprecated a node process that exits on its own is a failure (no node exits because the
   *     cluster downed it): restarting it hides that. Use {@link #awaitAllReady}, which fails with
   *     the node's log when one exits, or {@link #exitedOnTheirOwn} to count such exits.
   */
  @Deprecated
  public boolean awaitAllReadyRestartingExited(Duration timeout, Consumer<String> log) {
    return Await.within(timeout, Duration.ofMillis(500), () -> {
      for (int n = 0; n < NODES; n++) {
        if (reapExited(n).isPresent()) {
          log.accept(nodeId(n) + " exited before the cluster was ready; starting it again");
          start(n);
        }
      }
      return IntStream.range(0, NODES).allMatch(this::ready);
    });
  }

  /** A leader as the live nodes' /status name it: its index and its term. */
  public record Leader(int node, long term) {
    @Override
    public String toString() {
      return nodeId(node) + " (term " + term + ")";
    }
  }

  /**
   * Waits until exactly one live node reports itself leader in a term above {@code aboveTerm} and
   * every live node's /status names it as the leader. Being ready is not enough to know the leader
   * from one node's answer: a new cluster's first leader can be deposed by a candidate of a higher
   * term just after every node reported ready, and for a moment no node names one.
   */
  public Leader awaitLeader(String what, long aboveTerm, Duration timeout) {
    Leader[] found = new Leader[1];
    StringBuilder seen = new StringBuilder();
    Await.until(what, timeout, () -> {
      seen.setLength(0);
      found[0] = null;
      List<Integer> leaders = new ArrayList<>();
      Map<Integer, JsonNode> statuses = new LinkedHashMap<>();
      for (int n = 0; n < NODES; n++) {
        if (!isLive(n)) {
          continue;
        }
        Optional<JsonNode> s = status(n);
        seen.append(nodeId(n)).append('=').append(s.map(j -> j.path("role").asText() + "/"
            + j.path("leader").asText() + "/term " + j.path("term").asText()).orElse("no status")).append(' ');
        if (s.isEmpty()) {
          return false;
        }
        statuses.put(n, s.get());
        if ("leader".equals(s.get().path("role").asText()) && s.get().path("term").asLong() > aboveTerm) {
          leaders.add(n);
        }
      }
      if (leaders.size() != 1) {
        return false;
      }
      String leaderId = nodeId(leaders.get(0));
      boolean agreed = statuses.values().stream().allMatch(s -> leaderId.equals(s.path("leader").asText()));
      if (agreed) {
        found[0] = new Leader(leaders.get(0), statuses.get(leaders.get(0)).path("term").asLong());
      }
      return agreed;
    }, seen::toString);
    return found[0];
  }

  /**
   * Waits until every node in {@code nodes} reports the same lastIndex and digest on /status as
   * {@code reference} does, and returns that reference status.
   */
  public JsonNode awaitSameState(int reference, int[] nodes, Duration timeout) {
    JsonNode[] ref = new JsonNode[1];
    StringBuilder seen = new StringBuilder();
    Await.until("nodes " + Arrays.toString(nodes) + " have " + nodeId(reference) + "'s lastIndex and digest",
        timeout, () -> {
          seen.setLength(0);
          NodeClient.Response r = http.statusResponse(uri(reference));
          if (!r.ok()) {
            seen.append(nodeId(reference)).append(": ").append(r);
            return false;
          }
          ref[0] = r.body();
          boolean same = true;
          seen.append(positionOf(reference, r.body()));
          for (int n : nodes) {
            NodeClient.Response s = http.statusResponse(uri(n));
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

  // --- shutdown ---

  /** Kills every JVM it started, closes the placement and deletes the temporary directory. */
  @Override
  public void close() {
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
    }
    tearDown();
    removeShutdownHook();
  }

  private synchronized void tearDown() {
    if (tornDown) {
      return;
    }
    tornDown = true;
    closed = true;
    List<Process> alive = new ArrayList<>();
    for (Process p : processes) {
      if (p != null && p.isAlive()) {
        p.destroyForcibly();
        alive.add(p);
      }
    }
    Deadline deadline = Deadline.in(KILLED);
    for (Process p : alive) {
      try {
        p.waitFor(Math.max(1, deadline.remaining().toNanos()), TimeUnit.NANOSECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    placement.close();
    FileTrees.delete(dir);
  }

  private void removeShutdownHook() {
    try {
      Runtime.getRuntime().removeShutdownHook(shutdownHook);
    } catch (IllegalStateException e) {
      // the JVM is already shutting down: the hook runs anyway
    }
  }

  @Override
  public String toString() {
    return "Cluster(" + NODES + " nodes, " + placement + ", " + dir + (settings.isEmpty() ? "" : ", " + settings) + ")";
  }
}
