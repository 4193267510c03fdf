package quorumkv.harness;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.LocalTime;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;

/**
 * Six quorumkv nodes as real JVMs, each in a network namespace of its own, so that a nemesis can
 * cut the network between them while clients in the root namespace still reach every node.
 *
 * <p>The topology, all of it created here and removed by {@link #close()}:
 * <pre>
 *   root namespace: bridge qkvbr0 = 10.88.0.1/24, clients talk to http://10.88.0.1N:8000
 *     ├─ veth qkv-h0 ── (eth0 in qkv-n0) 10.88.0.10   node0: HTTP :8000, cluster :2550
 *     ├─ ...
 *     └─ veth qkv-h5 ── (eth0 in qkv-n5) 10.88.0.15   node5
 * </pre>
 * A partition is a blackhole route, in each namespace of one side, to each node of the other side:
 * traffic between the sides is dropped in both directions, while the root namespace (the clients)
 * has no such route. Every partition and heal is verified with TCP connects between namespaces.
 *
 * <p>Each node is started as {@code ip netns exec qkv-nN java ... -jar quorumkv.jar}; {@code ip}
 * execs java, so the process handle's pid is the JVM's own (checked at start through
 * {@code /proc/<pid>/exe} and {@code /proc/<pid>/ns/net}), and {@link #kill} is SIGKILL of the JVM,
 * {@link #pause}/{@link #resume} SIGSTOP/SIGCONT.
 *
 * <p>Needs root and iproute2. It never touches a namespace, link or address it did not create:
 * everything it creates is named {@code qkv-n*}, {@code qkv-h*} or {@code qkvbr0}, and what a
 * previous run left behind under those names (after a SIGKILL of the JVM that created it) is
 * removed first (also by {@code java -cp quorumkv.jar quorumkv.faults.NetnsCluster --clean-up}). A lock
 * file keeps two clusters on one machine from running at once.
 */
public final class NetnsCluster implements AutoCloseable {
  public static final int NODES = 6;
  public static final String BRIDGE = "qkvbr0";
  public static final String BRIDGE_ADDRESS = "10.88.0.1";
  public static final String SUBNET = "10.88.0.0/24";
  public static final int HTTP_PORT = 8000;
  public static final int CLUSTER_PORT = 2550;

  private static final String NAMESPACE_PREFIX = "qkv-n";
  private static final String HOST_VETH_PREFIX = "qkv-h";
  private static final String TEMP_PREFIX = "quorumkv-netns-";
  private static final Pattern OUR_NAMESPACE = Pattern.compile("qkv-n\\d+");
  private static final Pattern OUR_LINK = Pattern.compile("qkv-h\\d+|" + BRIDGE);
  private static final Path LOCK_FILE = Path.of(Files.isDirectory(Path.of("/run/lock")) ? "/run/lock" : "/tmp",
      "quorumkv-netns.lock");
  private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(20);
  private static final Duration PROBE_TIMEOUT = Duration.ofSeconds(2);
  private static final Duration STATUS_TIMEOUT = Duration.ofSeconds(3);

  /** Settings the nodes read from the environment; removed from the inherited environment first. */
  private static final List<String> NODE_ENV = List.of(
      "NODE_ID", "HTTP_HOST", "HTTP_PORT", "ASK_TIMEOUT", "CLUSTER_HOST", "CLUSTER_BIND_HOST", "CLUSTER_PORT",
      "SEED_NODES", "DATA_DIR", "SQLITE_SYNCHRONOUS", "WRITE_QUORUM", "FOLLOWERS", "REPLICATION_TIMEOUT",
      "MIN_DELAY", "MAX_DELAY", "RETAINED_ENTRIES", "SNAPSHOT_EVERY", "MAX_KEY_BYTES", "MAX_VALUE_BYTES",
      "JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS");

  /** What a TCP connect attempt found. REFUSED still proves the path works: the RST came back. */
  public enum Reach { CONNECTED, REFUSED, BLOCKED, UNKNOWN;
    public boolean reachable() {
      return this == CONNECTED || this == REFUSED;
    }
  }

  private final String ip;
  private final String bash;
  private final Path dir;
  private final Path jar;
  private final Map<String, String> extraEnv;
  private final Process[] processes = new Process[NODES];
  private final boolean[] paused = new boolean[NODES];
  private final int[] starts = new int[NODES];
  private final Set<List<Integer>> blackholes = new LinkedHashSet<>();
  private Set<Integer> minority = Set.of();
  private final ExecutorService httpExecutor;
  private final HttpClient http;
  private final ObjectMapper mapper = new ObjectMapper();
  private final Thread shutdownHook;
  private FileChannel lockChannel;
  private FileLock lock;
  private boolean closed;
  private boolean tornDown;

  /**
   * Sets up the network (cleaning up what an earlier run left behind) and copies the jar into a
   * temporary directory; starts no node. Waits up to {@code lockWait} for another NetnsCluster on
   * this machine to finish. On any failure, whatever was created is removed again.
   */
  public NetnsCluster(Path jar, Map<String, String> extraEnv, Duration lockWait) {
    String why = unavailableReason();
    if (why != null) {
      throw new IllegalStateException(why);
    }
    if (!Files.isRegularFile(jar)) {
      throw new IllegalStateException("quorumkv jar not found at " + jar + ": run `mvn -B package -DskipTests` first");
    }
    this.ip = findExecutable("ip").orElseThrow();
    this.bash = findExecutable("bash").orElse(null);
    if (bash == null) {
      System.err.println("NetnsCluster: no bash found, so partitions are not verified by TCP connects between namespaces");
    }
    this.extraEnv = Map.copyOf(extraEnv);
    this.httpExecutor = Executors.newFixedThreadPool(4, r -> {
      Thread t = new Thread(r, "netns-cluster-http");
      t.setDaemon(true);
      return t;
    });
    this.http = HttpClient.newBuilder()
        .version(HttpClient.Version.HTTP_1_1)
        .connectTimeout(Duration.ofSeconds(2))
        .executor(httpExecutor)
        .build();
    this.shutdownHook = new Thread(this::tearDown, "netns-cluster-shutdown");
    Runtime.getRuntime().addShutdownHook(shutdownHook);
    Path tmp = null;
    try {
      acquireLock(lockWait);
      removeLeftovers(ip);
      refuseIfSubnetTaken();
      tmp = Files.createTempDirectory(TEMP_PREFIX);
      this.dir = tmp;
      // The nodes run a private copy: a concurrent `mvn package` rewrites target/quorumkv.jar.
      this.jar = Files.copy(jar, dir.resolve("quorumkv.jar"));
      createNetwork();
      verifyFullMesh("after setup");
    } catch (RuntimeException | IOException e) {
      tearDownNetwork();
      if (tmp != null) {
        deleteRecursively(tmp);
      }
      releaseLock();
      removeShutdownHook();
      httpExecutor.shutdownNow();
      if (e instanceof IOException io) {
        throw new UncheckedIOException("could not set up the network namespaces", io);
      }
      throw (RuntimeException) e;
    }
  }

  /**
   * Null if this process can run a NetnsCluster, else why not: it needs root (network namespaces,
   * veths, a bridge) and the {@code ip} command of iproute2 with netns support.
   */
  public static String unavailableReason() {
    if (!isRoot()) {
      return "NetnsCluster needs root (it creates network namespaces, veth pairs and a bridge); this process runs as uid "
          + effectiveUid();
    }
    Optional<String> ip = findExecutable("ip");
    if (ip.isEmpty()) {
      return "the `ip` command is missing: apt-get install iproute2";
    }
    try {
      CommandResult r = runCommand(List.of(ip.get(), "netns", "list"), COMMAND_TIMEOUT);
      if (r.exit() != 0) {
        return "`ip netns` is unavailable (" + ip.get() + " netns list: exit " + r.exit() + ": " + r.output().strip()
            + "); install a full iproute2: apt-get install iproute2";
      }
    } catch (RuntimeException e) {
      return "`ip netns list` failed: " + e.getMessage();
    }
    return null;
  }

  public static String nodeId(int n) {
    return "node" + n;
  }

  public static String namespace(int n) {
    return NAMESPACE_PREFIX + n;
  }

  /** Node n's address, in its namespace: 10.88.0.1N. */
  public static String address(int n) {
    checkNode(n);
    return "10.88.0.1" + n;
  }

  public static URI uri(int n, String pathAndQuery) {
    return URI.create("http://" + address(n) + ":" + HTTP_PORT + pathAndQuery);
  }

  /** The node with this id ("node3" → 3), or -1. */
  public static int nodeIndex(String nodeId) {
    if (nodeId != null && nodeId.matches("node\\d")) {
      int n = nodeId.charAt(4) - '0';
      return n < NODES ? n : -1;
    }
    return -1;
  }

  public Path dir() {
    return dir;
  }

  public Path logFile(int n) {
    return dir.resolve(nodeId(n) + ".log");
  }

  // --- processes ---

  /** Starts node n's JVM in its namespace (it must not be running). */
  public synchronized void start(int n) {
    checkNode(n);
    if (closed) {
      throw new IllegalStateException("cluster is closed");
    }
    if (isRunning(n)) {
      throw new IllegalStateException(nodeId(n) + " is already running (pid " + processes[n].pid() + ")");
    }
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    ProcessBuilder pb = new ProcessBuilder(ip, "netns", "exec", namespace(n),
        java, "-Xmx256m", "-XX:+UseSerialGC", "-jar", jar.toString());
    pb.directory(dir.toFile());
    NODE_ENV.forEach(pb.environment()::remove);
    Map<String, String> env = pb.environment();
    env.put("NODE_ID", nodeId(n));
    env.put("HTTP_HOST", "0.0.0.0");
    env.put("HTTP_PORT", String.valueOf(HTTP_PORT));
    env.put("CLUSTER_HOST", address(n));
    env.put("CLUSTER_PORT", String.valueOf(CLUSTER_PORT));
    env.put("SEED_NODES", IntStream.range(0, 3).mapToObj(i -> address(i) + ":" + CLUSTER_PORT)
        .collect(Collectors.joining(",")));
    env.put("DATA_DIR", dir.resolve(nodeId(n)).toString());
    env.put("WRITE_QUORUM", "3");
    env.put("FOLLOWERS", String.valueOf(NODES - 1));
    env.putAll(extraEnv);
    Path log = logFile(n);
    starts[n]++;
    try {
      Files.writeString(log, String.format("%n==== NetnsCluster: %s start #%d at %s in %s ====%n",
          nodeId(n), starts[n], LocalTime.now(), namespace(n)), StandardOpenOption.CREATE, StandardOpenOption.APPEND);
      pb.redirectErrorStream(true);
      pb.redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
      processes[n] = pb.start();
      paused[n] = false;
    } catch (IOException e) {
      throw new UncheckedIOException("could not start " + nodeId(n), e);
    }
    verifyJvmInNamespace(n, processes[n]);
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
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        throw new IllegalStateException(nodeId(n) + " (pid " + p.pid() + ") still alive 30 s after SIGKILL");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while killing " + nodeId(n), e);
    }
    processes[n] = null;
    paused[n] = false;
  }

  /** SIGSTOP: the JVM freezes, its sockets stay open (peers see silence, not a closed connection). */
  public synchronized void pause(int n) {
    signal(n, "-STOP");
    paused[n] = true;
  }

  /** SIGCONT. */
  public synchronized void resume(int n) {
    signal(n, "-CONT");
    paused[n] = false;
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

  public synchronized long pid(int n) {
    return processes[n] == null ? -1 : processes[n].pid();
  }

  public synchronized int starts(int n) {
    return starts[n];
  }

  // --- network faults ---

  /**
   * Cuts every node of {@code minority} off from every node of the rest, both ways; clients in the
   * root namespace still reach all of them. Heals any earlier partition first. Verified by TCP
   * connects across the cut (must be blocked) and from the root namespace (must not be).
   */
  public synchronized void partition(Set<Integer> minority) {
    if (minority.isEmpty() || minority.size() * 2 >= NODES) {
      throw new IllegalArgumentException("a minority is 1 to " + (NODES - 1) / 2 + " nodes, got " + minority);
    }
    minority.forEach(NetnsCluster::checkNode);
    if (!this.minority.isEmpty()) {
      heal();
    }
    Set<Integer> majority = majorityOf(minority);
    for (int a : minority) {
      for (int b : majority) {
        addBlackhole(a, b);
        addBlackhole(b, a);
      }
    }
    this.minority = Set.copyOf(minority);
    List<String> problems = new ArrayList<>();
    for (int a = 0; a < NODES; a++) {
      for (int b = 0; b < NODES; b++) {
        if (a == b) {
          continue;
        }
        boolean cut = minority.contains(a) != minority.contains(b);
        Reach r = probe(a, b);
        if (r == Reach.UNKNOWN && bash == null) {
          continue; // no bash in this machine to connect from inside a namespace: checked from the root only
        }
        if (cut ? r != Reach.BLOCKED : !r.reachable() && r != Reach.UNKNOWN) {
          problems.add(nodeId(a) + "->" + nodeId(b) + " " + r + " (expected " + (cut ? "BLOCKED" : "reachable") + ")");
        }
      }
      Reach fromRoot = probeFromRoot(a);
      if (!fromRoot.reachable()) {
        problems.add("root->" + nodeId(a) + " " + fromRoot + " (clients must reach every node)");
      }
    }
    if (!problems.isEmpty()) {
      throw new IllegalStateException("partition " + minority + " | " + majority + " did not take effect as intended: "
          + problems);
    }
  }

  /** Removes every blackhole route this cluster added, and checks that every node reaches every other. */
  public synchronized void heal() {
    List<String> failures = new ArrayList<>();
    for (List<Integer> route : List.copyOf(blackholes)) {
      CommandResult r = runCommand(List.of(ip, "-n", namespace(route.get(0)), "route", "del", "blackhole",
          address(route.get(1)) + "/32"), COMMAND_TIMEOUT);
      if (r.exit() != 0) {
        failures.add(namespace(route.get(0)) + " -> " + address(route.get(1)) + ": " + r.output().strip());
      }
      blackholes.remove(route);
    }
    minority = Set.of();
    if (!failures.isEmpty()) {
      throw new IllegalStateException("could not remove blackhole routes: " + failures);
    }
    verifyFullMesh("after heal");
  }

  /** The nodes cut off by the current partition; empty when healed. */
  public synchronized Set<Integer> partitionedMinority() {
    return minority;
  }

  /**
   * A TCP connect from node a's namespace to node b's cluster port (made with bash's /dev/tcp in
   * a's namespace; UNKNOWN without bash).
   */
  public Reach probe(int a, int b) {
    if (bash == null) {
      return Reach.UNKNOWN;
    }
    CommandResult r = runCommand(List.of(ip, "netns", "exec", namespace(a), bash, "-c",
        "exec 3<>/dev/tcp/" + address(b) + "/" + CLUSTER_PORT), PROBE_TIMEOUT.plusSeconds(3), PROBE_TIMEOUT);
    if (r.exit() == 0) {
      return Reach.CONNECTED;
    }
    String out = r.output();
    if (out.contains("Connection refused")) {
      return Reach.REFUSED;
    }
    if (r.timedOut() || out.contains("Invalid argument") || out.contains("No route to host")
        || out.contains("Network is unreachable") || out.contains("Permission denied")
        || out.contains("timed out")) {
      return Reach.BLOCKED;
    }
    return Reach.UNKNOWN;
  }

  /** A TCP connect from this (root) namespace to node n's HTTP port. */
  public static Reach probeFromRoot(int n) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(address(n), HTTP_PORT), (int) PROBE_TIMEOUT.toMillis());
      return Reach.CONNECTED;
    } catch (ConnectException e) {
      return String.valueOf(e.getMessage()).contains("refused") ? Reach.REFUSED : Reach.BLOCKED;
    } catch (IOException e) {
      return Reach.BLOCKED;
    }
  }

  // --- HTTP ---

  /** GET /status of node n, or empty if it does not answer 200 within a few seconds. */
  public Optional<JsonNode> status(int n) {
    return getJson(n, "/status", 200);
  }

  /** Whether node n answers 200 on GET /ready. */
  public boolean ready(int n) {
    return getJson(n, "/ready", 200).isPresent();
  }

  /** Whether node n answers GET /health at all (its HTTP server is up). */
  public boolean answersHealth(int n) {
    return getJson(n, "/health", 200).isPresent();
  }

  /** Polls until every node of {@code nodes} is ready; false if {@code timeout} passes first. */
  public boolean awaitReady(Collection<Integer> nodes, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    Set<Integer> waiting = new TreeSet<>(nodes);
    while (true) {
      waiting.removeIf(this::ready);
      if (waiting.isEmpty()) {
        return true;
      }
      if (System.nanoTime() > deadline) {
        return false;
      }
      sleep(Duration.ofMillis(500));
    }
  }

  public boolean awaitAllReady(Duration timeout) {
    return awaitReady(IntStream.range(0, NODES).boxed().toList(), timeout);
  }

  /** One line per node: running/paused/down, and what /ready says. */
  public String readiness() {
    StringBuilder sb = new StringBuilder();
    for (int n = 0; n < NODES; n++) {
      sb.append(sb.length() == 0 ? "" : "; ").append(nodeId(n)).append(' ');
      if (!isRunning(n)) {
        sb.append("not running");
      } else if (isPaused(n)) {
        sb.append("paused");
      } else {
        Optional<JsonNode> r = getJson(n, "/ready", -1);
        sb.append(r.map(JsonNode::toString).orElse("no answer"));
      }
    }
    return sb.toString();
  }

  private Optional<JsonNode> getJson(int n, String path, int requiredStatus) {
    HttpRequest request = HttpRequest.newBuilder(uri(n, path)).timeout(STATUS_TIMEOUT).GET().build();
    try {
      HttpResponse<String> r = http.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
      if (requiredStatus > 0 && r.statusCode() != requiredStatus) {
        return Optional.empty();
      }
      return Optional.of(mapper.readTree(r.body()));
    } catch (IOException e) {
      return Optional.empty();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Optional.empty();
    }
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

  /** Copies every node log into {@code target}. */
  public void copyLogsTo(Path target) {
    try {
      Files.createDirectories(target);
      for (int n = 0; n < NODES; n++) {
        if (Files.exists(logFile(n))) {
          Files.copy(logFile(n), target.resolve(logFile(n).getFileName()), StandardCopyOption.REPLACE_EXISTING);
        }
      }
    } catch (IOException e) {
      System.err.println("NetnsCluster: could not copy node logs to " + target + ": " + e);
    }
  }

  // --- shutdown ---

  /** Kills every JVM it started, deletes the namespaces, veths and bridge, and the temporary directory. */
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
    httpExecutor.shutdownNow();
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
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    for (Process p : alive) {
      try {
        p.waitFor(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    tearDownNetwork();
    if (dir != null) {
      deleteRecursively(dir);
    }
    releaseLock();
  }

  private void tearDownNetwork() {
    removeOurNetwork(ip);
    blackholes.clear();
    minority = Set.of();
  }

  /** Deletes our namespaces (killing anything still inside them), veths and bridge. Never throws. */
  private static void removeOurNetwork(String ip) {
    try {
      for (String ns : listOurNamespaces(ip)) {
        killProcessesIn(ip, ns);
        runCommand(List.of(ip, "netns", "delete", ns), COMMAND_TIMEOUT);
      }
      for (String link : listOurLinks(ip)) {
        runCommand(List.of(ip, "link", "delete", link), COMMAND_TIMEOUT);
      }
      List<String> left = new ArrayList<>(listOurNamespaces(ip));
      left.addAll(listOurLinks(ip));
      if (!left.isEmpty()) {
        System.err.println("NetnsCluster: could not remove " + left);
      }
    } catch (RuntimeException e) {
      System.err.println("NetnsCluster: network teardown failed: " + e);
    }
  }

  private void removeShutdownHook() {
    try {
      Runtime.getRuntime().removeShutdownHook(shutdownHook);
    } catch (IllegalStateException e) {
      // the JVM is shutting down: the hook runs anyway
    }
  }

  // --- setup ---

  private void acquireLock(Duration wait) throws IOException {
    lockChannel = FileChannel.open(LOCK_FILE, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
    long deadline = System.nanoTime() + wait.toNanos();
    boolean told = false;
    while (true) {
      try {
        lock = lockChannel.tryLock();
      } catch (OverlappingFileLockException e) {
        lock = null; // another NetnsCluster in this JVM
      }
      if (lock != null) {
        return;
      }
      if (!told) {
        System.out.println("NetnsCluster: another run holds " + LOCK_FILE + "; waiting up to " + wait.toSeconds() + " s");
        told = true;
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("another NetnsCluster holds " + LOCK_FILE + " (a run is in progress on this"
            + " machine); gave up after " + wait.toSeconds() + " s");
      }
      sleep(Duration.ofSeconds(1));
    }
  }

  private void releaseLock() {
    try {
      if (lock != null) {
        lock.release();
      }
      if (lockChannel != null) {
        lockChannel.close();
      }
    } catch (IOException e) {
      // closing the channel releases the lock anyway
    }
    lock = null;
  }

  /** Under the lock, any qkv-n<i> namespace, qkv-h<i> veth or qkvbr0 bridge is a leftover of a killed run. */
  private static void removeLeftovers(String ip) {
    List<String> namespaces = listOurNamespaces(ip);
    List<String> links = listOurLinks(ip);
    List<Path> dirs = new ArrayList<>();
    try (Stream<Path> tmp = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
      tmp.filter(d -> d.getFileName().toString().startsWith(TEMP_PREFIX) && Files.isDirectory(d)).forEach(dirs::add);
    } catch (IOException e) {
      // nothing to clean there
    }
    if (namespaces.isEmpty() && links.isEmpty() && dirs.isEmpty()) {
      return;
    }
    System.out.println("NetnsCluster: removing what an earlier run left behind: namespaces " + namespaces
        + " (and the JVMs in them), links " + links + ", directories " + dirs);
    removeOurNetwork(ip);
    dirs.forEach(NetnsCluster::deleteRecursively);
  }

  /**
   * {@code java -cp quorumkv.jar quorumkv.faults.NetnsCluster --clean-up}: removes what a run that
   * was killed (SIGKILL, so no shutdown hook) left behind: node JVMs, namespaces, veths, bridge,
   * temporary directories. A later run does the same before it starts.
   */
  public static void main(String[] args) {
    if (args.length != 1 || !args[0].equals("--clean-up")) {
      System.err.println("usage: java -cp quorumkv.jar quorumkv.faults.NetnsCluster --clean-up   (as root)");
      System.exit(2);
    }
    String why = unavailableReason();
    if (why != null) {
      System.err.println(why);
      System.exit(2);
    }
    try (FileChannel channel = FileChannel.open(LOCK_FILE, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock held = channel.tryLock()) {
      if (held == null) {
        System.err.println("a NetnsCluster run is in progress (it holds " + LOCK_FILE + "); not cleaning up");
        System.exit(1);
      }
      removeLeftovers(findExecutable("ip").orElseThrow());
      System.out.println("NetnsCluster: clean");
    } catch (IOException e) {
      System.err.println("could not take " + LOCK_FILE + ": " + e);
      System.exit(2);
    }
  }

  private void refuseIfSubnetTaken() {
    CommandResult addrs = runOk(List.of(ip, "-o", "-4", "addr", "show", "to", SUBNET));
    CommandResult routes = runOk(List.of(ip, "-4", "route", "show", "exact", SUBNET));
    if (!addrs.output().isBlank() || !routes.output().isBlank()) {
      throw new IllegalStateException(SUBNET + " is already in use in the root namespace, by something NetnsCluster"
          + " did not create; it will not touch it:\n" + addrs.output() + routes.output());
    }
  }

  private void createNetwork() {
    runOk(List.of(ip, "link", "add", BRIDGE, "type", "bridge"));
    runOk(List.of(ip, "addr", "add", BRIDGE_ADDRESS + "/24", "dev", BRIDGE));
    runOk(List.of(ip, "link", "set", BRIDGE, "up"));
    for (int n = 0; n < NODES; n++) {
      String ns = namespace(n);
      String hostVeth = HOST_VETH_PREFIX + n;
      runOk(List.of(ip, "netns", "add", ns));
      runOk(List.of(ip, "link", "add", hostVeth, "type", "veth", "peer", "name", "qkv-p" + n, "netns", ns));
      runOk(List.of(ip, "link", "set", hostVeth, "master", BRIDGE));
      runOk(List.of(ip, "link", "set", hostVeth, "up"));
      runOk(List.of(ip, "-n", ns, "link", "set", "qkv-p" + n, "name", "eth0"));
      runOk(List.of(ip, "-n", ns, "addr", "add", address(n) + "/24", "dev", "eth0"));
      runOk(List.of(ip, "-n", ns, "link", "set", "eth0", "up"));
      runOk(List.of(ip, "-n", ns, "link", "set", "lo", "up"));
    }
  }

  /** Every node reaches every other node and the root namespace reaches every node (retried briefly). */
  private void verifyFullMesh(String when) {
    List<String> problems = List.of();
    for (int attempt = 0; attempt < 10; attempt++) {
      problems = new ArrayList<>();
      for (int a = 0; a < NODES; a++) {
        for (int b = 0; b < NODES; b++) {
          if (a != b) {
            Reach r = probe(a, b);
            if (!r.reachable() && r != Reach.UNKNOWN) {
              problems.add(nodeId(a) + "->" + nodeId(b) + " " + r);
            }
          }
        }
        Reach r = probeFromRoot(a);
        if (!r.reachable()) {
          problems.add("root->" + nodeId(a) + " " + r);
        }
      }
      if (problems.isEmpty()) {
        return;
      }
      sleep(Duration.ofMillis(500)); // a fresh veth may take a moment to forward
    }
    throw new IllegalStateException("the namespaces cannot reach each other " + when + " (a firewall on bridged"
        + " traffic, e.g. br_netfilter with a DROP policy on FORWARD?): " + problems);
  }

  private void addBlackhole(int from, int to) {
    runOk(List.of(ip, "-n", namespace(from), "route", "add", "blackhole", address(to) + "/32"));
    blackholes.add(List.of(from, to));
  }

  private static List<String> listOurNamespaces(String ip) {
    CommandResult r = runCommand(List.of(ip, "netns", "list"), COMMAND_TIMEOUT);
    List<String> ours = new ArrayList<>();
    for (String line : r.output().split("\n")) {
      String name = line.strip().split("\\s+")[0];
      if (OUR_NAMESPACE.matcher(name).matches()) {
        ours.add(name);
      }
    }
    return ours;
  }

  private static List<String> listOurLinks(String ip) {
    CommandResult r = runCommand(List.of(ip, "-o", "link", "show"), COMMAND_TIMEOUT);
    Pattern linkName = Pattern.compile("^\\d+:\\s+([^:@\\s]+)[@:]");
    List<String> ours = new ArrayList<>();
    for (String line : r.output().split("\n")) {
      Matcher m = linkName.matcher(line);
      if (m.find() && OUR_LINK.matcher(m.group(1)).matches()) {
        ours.add(m.group(1));
      }
    }
    ours.sort(Comparator.comparing((String s) -> s.equals(BRIDGE)).thenComparing(s -> s)); // veths before the bridge
    return ours;
  }

  /** SIGKILL to every process in one of our namespaces (by pid, as `ip netns pids` lists them). */
  private static void killProcessesIn(String ip, String ns) {
    CommandResult r = runCommand(List.of(ip, "netns", "pids", ns), COMMAND_TIMEOUT);
    List<Long> pids = r.output().lines().map(String::strip).filter(s -> s.matches("\\d+")).map(Long::parseLong).toList();
    for (long pid : pids) {
      ProcessHandle.of(pid).ifPresent(h -> {
        h.destroyForcibly();
        try {
          h.onExit().get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
          System.err.println("NetnsCluster: pid " + pid + " in " + ns + " did not exit after SIGKILL: " + e);
        }
      });
    }
  }

  /** `ip netns exec` execs java: the pid we hold must become the JVM, inside node n's namespace. */
  private void verifyJvmInNamespace(int n, Process p) {
    Path proc = Path.of("/proc", String.valueOf(p.pid()));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    String seen = "";
    while (System.nanoTime() < deadline) {
      if (!p.isAlive()) {
        throw new IllegalStateException(nodeId(n) + " exited at once (exit " + p.exitValue() + "):\n" + logTail(n, 30));
      }
      try {
        String exe = Files.readSymbolicLink(proc.resolve("exe")).toString();
        String netns = Files.readSymbolicLink(proc.resolve("ns/net")).toString();
        Object inode = Files.getAttribute(Path.of("/run/netns", namespace(n)), "unix:ino");
        seen = "exe " + exe + ", " + netns + ", " + namespace(n) + " inode " + inode;
        if (exe.endsWith("/java") && netns.equals("net:[" + inode + "]")) {
          return;
        }
      } catch (IOException | UnsupportedOperationException e) {
        seen = e.toString();
      }
      sleep(Duration.ofMillis(50));
    }
    p.destroyForcibly();
    throw new IllegalStateException("pid " + p.pid() + " for " + nodeId(n) + " did not become a JVM in " + namespace(n)
        + " (last seen: " + seen + "); SIGKILL/SIGSTOP would not reach the right process");
  }

  private void signal(int n, String signal) {
    checkNode(n);
    if (!isRunning(n)) {
      throw new IllegalStateException(nodeId(n) + " is not running");
    }
    String kill = findExecutable("kill").orElseThrow(() -> new IllegalStateException("no `kill` command"));
    runOk(List.of(kill, signal, String.valueOf(processes[n].pid())));
  }

  // --- commands ---

  record CommandResult(int exit, String output, boolean timedOut) {}

  private static CommandResult runOk(List<String> command) {
    CommandResult r = runCommand(command, COMMAND_TIMEOUT);
    if (r.exit() != 0) {
      throw new IllegalStateException("`" + String.join(" ", command) + "` failed (exit " + r.exit() + "): "
          + r.output().strip());
    }
    return r;
  }

  static CommandResult runCommand(List<String> command, Duration timeout) {
    return runCommand(command, timeout, null);
  }

  /** Runs a command, stdout and stderr together; {@code softTimeout} (if any) ends it as timed out. */
  private static CommandResult runCommand(List<String> command, Duration timeout, Duration softTimeout) {
    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
    pb.environment().put("LC_ALL", "C");
    Process p;
    try {
      p = pb.start();
    } catch (IOException e) {
      throw new UncheckedIOException("could not run " + command, e);
    }
    CompletableFuture<String> output = CompletableFuture.supplyAsync(() -> {
      try (InputStream in = p.getInputStream()) {
        return new String(in.readAllBytes(), StandardCharsets.UTF_8);
      } catch (IOException e) {
        return "";
      }
    });
    try {
      Duration wait = softTimeout != null ? softTimeout : timeout;
      if (!p.waitFor(wait.toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
        p.waitFor(5, TimeUnit.SECONDS);
        if (softTimeout == null) {
          throw new IllegalStateException("`" + String.join(" ", command) + "` did not finish within " + timeout);
        }
        return new CommandResult(-1, output.getNow(""), true);
      }
      return new CommandResult(p.exitValue(), output.get(5, TimeUnit.SECONDS), false);
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while running " + command, e);
    } catch (Exception e) {
      return new CommandResult(p.exitValue(), "", false);
    }
  }

  // --- helpers ---

  private static Set<Integer> majorityOf(Set<Integer> minority) {
    Set<Integer> majority = new TreeSet<>();
    for (int n = 0; n < NODES; n++) {
      if (!minority.contains(n)) {
        majority.add(n);
      }
    }
    return majority;
  }

  private static Optional<String> findExecutable(String name) {
    List<String> dirs = new ArrayList<>(List.of(System.getenv().getOrDefault("PATH", "").split(":")));
    dirs.addAll(List.of("/usr/sbin", "/sbin", "/usr/bin", "/bin"));
    for (String d : dirs) {
      if (!d.isEmpty()) {
        Path p = Path.of(d, name);
        if (Files.isExecutable(p)) {
          return Optional.of(p.toString());
        }
      }
    }
    return Optional.empty();
  }

  private static boolean isRoot() {
    return effectiveUid() == 0;
  }

  /** The effective uid, from /proc/self/status; -1 if unknown. */
  private static long effectiveUid() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("Uid:")) {
          return Long.parseLong(line.substring(4).strip().split("\\s+")[1]);
        }
      }
    } catch (IOException | RuntimeException e) {
      // not Linux
    }
    return -1;
  }

  private static void checkNode(int n) {
    if (n < 0 || n >= NODES) {
      throw new IllegalArgumentException("no node " + n + "; nodes are 0.." + (NODES - 1));
    }
  }

  private static void sleep(Duration d) {
    try {
      Thread.sleep(d.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
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
          System.err.println("NetnsCluster: could not delete " + p + ": " + e);
        }
      });
    } catch (IOException | UncheckedIOException e) {
      System.err.println("NetnsCluster: could not delete " + root + ": " + e);
    }
  }

  @Override
  public String toString() {
    return "NetnsCluster(" + dir + ", " + NODES + " nodes in " + namespace(0) + ".." + namespace(NODES - 1) + ", bridge "
        + BRIDGE + " " + BRIDGE_ADDRESS + "/24)";
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
}
