package quorumkv.harness;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Each node in a network namespace of its own, so that a nemesis can cut the network between
 * them while clients in the root namespace still reach every node.
 *
 * <p>The topology, all of it created by {@link #open()} and removed by {@link #close()}:
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
 * {@code /proc/<pid>/exe} and {@code /proc/<pid>/ns/net}), and a kill or pause reaches the JVM.
 *
 * <p>Needs root and iproute2. It never touches a namespace, link or address it did not create:
 * everything it creates is named {@code qkv-n*}, {@code qkv-h*} or {@code qkvbr0}, and what a
 * previous run left behind under those names (after a SIGKILL of the JVM that created it) is
 * removed first, also by
 * {@code java -cp jepsen/target/quorumkv-jepsen.jar quorumkv.harness.NetworkNamespaces --clean-up}.
 * A lock file keeps two such clusters on one machine from running at once.
 */
public final class NetworkNamespaces implements Placement {
  public static final String BRIDGE = "qkvbr0";
  public static final String BRIDGE_ADDRESS = "10.88.0.1";
  public static final String SUBNET = "10.88.0.0/24";
  public static final int HTTP_PORT = 8000;
  public static final int CLUSTER_PORT = 2550;

  private static final String NAMESPACE_PREFIX = "qkv-n";
  private static final String HOST_VETH_PREFIX = "qkv-h";
  static final String NAME = "netns";
  private static final Pattern OUR_NAMESPACE = Pattern.compile("qkv-n\\d+");
  private static final Pattern OUR_LINK = Pattern.compile("qkv-h\\d+|" + BRIDGE);
  private static final Path LOCK_FILE = Path.of(Files.isDirectory(Path.of("/run/lock")) ? "/run/lock" : "/tmp",
      "quorumkv-netns.lock");
  private static final Duration PROBE_TIMEOUT = Duration.ofSeconds(2);
  private static final Duration MESH_SETTLES = Duration.ofSeconds(15);
  private static final Duration JVM_EXEC = Duration.ofSeconds(10);

  /** What a TCP connect attempt found. REFUSED still proves the path works: the RST came back. */
  public enum Reach { CONNECTED, REFUSED, BLOCKED, UNKNOWN;
    public boolean reachable() {
      return this == CONNECTED || this == REFUSED;
    }
  }

  private final Duration lockWait;
  private String ip;
  private String bash;
  private final Set<List<Integer>> blackholes = new LinkedHashSet<>();
  private Set<Integer> minority = Set.of();
  private FileChannel lockChannel;
  private FileLock lock;

  /** Waits up to {@code lockWait} in {@link #open()} for another run on this machine to finish. */
  public NetworkNamespaces(Duration lockWait) {
    this.lockWait = lockWait;
  }

  /**
   * Null if this process can run nodes in network namespaces, else why not: it needs root
   * (namespaces, veths, a bridge) and the {@code ip} command of iproute2 with netns support.
   */
  public static String unavailableReason() {
    if (OsCommands.effectiveUid() != 0) {
      return "network namespaces need root (namespaces, veth pairs and a bridge are created); this process runs as uid "
          + OsCommands.effectiveUid();
    }
    Optional<String> ip = OsCommands.findExecutable("ip");
    if (ip.isEmpty()) {
      return "the `ip` command is missing: apt-get install iproute2";
    }
    try {
      OsCommands.Result r = OsCommands.run(List.of(ip.get(), "netns", "list"));
      if (r.exit() != 0) {
        return "`ip netns` is unavailable (" + ip.get() + " netns list: exit " + r.exit() + ": " + r.output().strip()
            + "); install a full iproute2: apt-get install iproute2";
      }
    } catch (RuntimeException e) {
      return "`ip netns list` failed: " + e.getMessage();
    }
    return null;
  }

  public static String namespace(int n) {
    return NAMESPACE_PREFIX + n;
  }

  /** Node n's address, in its namespace: 10.88.0.1N. */
  public static String address(int n) {
    Cluster.checkNode(n);
    return "10.88.0.1" + n;
  }

  @Override
  public String name() {
    return NAME;
  }

  /**
   * Takes the lock, removes what an earlier run left behind, creates the bridge, namespaces and
   * veths, and checks that every node's address reaches every other. On failure removes it again.
   */
  @Override
  public void open() {
    String why = unavailableReason();
    if (why != null) {
      throw new IllegalStateException(why);
    }
    ip = OsCommands.findExecutable("ip").orElseThrow();
    bash = OsCommands.findExecutable("bash").orElse(null);
    if (bash == null) {
      System.err.println("NetworkNamespaces: no bash found, so partitions are not verified by TCP connects between"
          + " namespaces");
    }
    try {
      acquireLock();
      removeLeftovers(ip);
      refuseIfSubnetTaken();
      createNetwork();
      verifyFullMesh("after setup");
    } catch (RuntimeException | IOException e) {
      close();
      if (e instanceof IOException io) {
        throw new UncheckedIOException("could not set up the network namespaces", io);
      }
      throw (RuntimeException) e;
    }
  }

  @Override
  public URI uri(int n) {
    return URI.create("http://" + address(n) + ":" + HTTP_PORT);
  }

  @Override
  public Map<String, String> addresses(int n) {
    return Map.of(
        "HTTP_HOST", "0.0.0.0",
        "HTTP_PORT", String.valueOf(HTTP_PORT),
        "CLUSTER_HOST", address(n),
        "CLUSTER_PORT", String.valueOf(CLUSTER_PORT),
        "SEED_NODES", IntStream.range(0, Cluster.SEEDS).mapToObj(i -> address(i) + ":" + CLUSTER_PORT)
            .collect(Collectors.joining(",")));
  }

  @Override
  public List<String> launcher(int n) {
    return List.of(ip, "netns", "exec", namespace(n));
  }

  @Override
  public List<String> jvmOptions() {
    // -Xss4m as in jvm.options (deep unstashing in Akka 2.8's EventSourcedBehavior, akka#29933).
    return List.of("-Xmx256m", "-XX:+UseSerialGC", "-Xss4m");
  }

  @Override
  public void beforeStart(int n) {}

  /** `ip netns exec` execs java: the pid we hold must become the JVM, inside node n's namespace. */
  @Override
  public void afterStart(int n, Process jvm) {
    Path proc = Path.of("/proc", String.valueOf(jvm.pid()));
    String[] seen = {""};
    boolean inPlace = Await.within(JVM_EXEC, Duration.ofMillis(50), () -> {
      if (!jvm.isAlive()) {
        throw new IllegalStateException(Cluster.nodeId(n) + " exited at once (exit " + jvm.exitValue() + ")");
      }
      try {
        String exe = Files.readSymbolicLink(proc.resolve("exe")).toString();
        String netns = Files.readSymbolicLink(proc.resolve("ns/net")).toString();
        Object inode = Files.getAttribute(Path.of("/run/netns", namespace(n)), "unix:ino");
        seen[0] = "exe " + exe + ", " + netns + ", " + namespace(n) + " inode " + inode;
        return exe.endsWith("/java") && netns.equals("net:[" + inode + "]");
      } catch (IOException | UnsupportedOperationException e) {
        seen[0] = e.toString();
        return false;
      }
    });
    if (!inPlace) {
      throw new IllegalStateException("pid " + jvm.pid() + " for " + Cluster.nodeId(n) + " did not become a JVM in "
          + namespace(n) + " (last seen: " + seen[0] + "); SIGKILL/SIGSTOP would not reach the right process");
    }
  }

  // --- network faults ---

  /**
   * Cuts every node of {@code minority} off from every node of the rest, both ways; clients in the
   * root namespace still reach all of them. Heals any earlier partition first. Verified by TCP
   * connects across the cut (must be blocked) and from the root namespace (must not be).
   */
  public synchronized void partition(Set<Integer> minority) {
    cut(minority);
    verifyPartition();
  }

  /**
   * What {@link #partition} does, without the verification, which takes a second or two of TCP
   * connects: for a caller that times what follows the cut (and calls {@link #verifyPartition} later).
   */
  public synchronized void cut(Set<Integer> minority) {
    if (minority.isEmpty() || minority.size() * 2 >= Cluster.NODES) {
      throw new IllegalArgumentException("a minority is 1 to " + (Cluster.NODES - 1) / 2 + " nodes, got " + minority);
    }
    minority.forEach(Cluster::checkNode);
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
  }

  /**
   * Checks, by TCP connects, that the current partition is in effect: blocked across the cut,
   * open within each side and from the root namespace to every node. Throws if not.
   */
  public synchronized void verifyPartition() {
    Set<Integer> majority = majorityOf(minority);
    List<String> problems = new ArrayList<>();
    for (int a = 0; a < Cluster.NODES; a++) {
      for (int b = 0; b < Cluster.NODES; b++) {
        if (a == b) {
          continue;
        }
        boolean cut = minority.contains(a) != minority.contains(b);
        Reach r = probe(a, b);
        if (r == Reach.UNKNOWN && bash == null) {
          continue; // no bash in this machine to connect from inside a namespace: checked from the root only
        }
        if (cut ? r != Reach.BLOCKED : !r.reachable() && r != Reach.UNKNOWN) {
          problems.add(Cluster.nodeId(a) + "->" + Cluster.nodeId(b) + " " + r + " (expected "
              + (cut ? "BLOCKED" : "reachable") + ")");
        }
      }
      Reach fromRoot = probeFromRoot(a);
      if (!fromRoot.reachable()) {
        problems.add("root->" + Cluster.nodeId(a) + " " + fromRoot + " (clients must reach every node)");
      }
    }
    if (!problems.isEmpty()) {
      throw new IllegalStateException("partition " + minority + " | " + majority + " did not take effect as intended: "
          + problems);
    }
  }

  /** Removes every blackhole route this placement added, and checks that every node reaches every other. */
  public synchronized void heal() {
    List<String> failures = new ArrayList<>();
    for (List<Integer> route : List.copyOf(blackholes)) {
      OsCommands.Result r = OsCommands.run(List.of(ip, "-n", namespace(route.get(0)), "route", "del", "blackhole",
          address(route.get(1)) + "/32"));
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
    OsCommands.Result r = OsCommands.run(List.of(ip, "netns", "exec", namespace(a), bash, "-c",
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

  // --- teardown ---

  /** Deletes the namespaces (and whatever still runs in them), veths and bridge, and releases the lock. */
  @Override
  public synchronized void close() {
    if (ip != null && lock != null) {
      removeOurNetwork(ip);
    }
    blackholes.clear();
    minority = Set.of();
    releaseLock();
  }

  /** Deletes our namespaces (killing anything still inside them), veths and bridge. Never throws. */
  private static void removeOurNetwork(String ip) {
    try {
      for (String ns : listOurNamespaces(ip)) {
        killProcessesIn(ip, ns);
        OsCommands.run(List.of(ip, "netns", "delete", ns));
      }
      for (String link : listOurLinks(ip)) {
        OsCommands.run(List.of(ip, "link", "delete", link));
      }
      List<String> left = new ArrayList<>(listOurNamespaces(ip));
      left.addAll(listOurLinks(ip));
      if (!left.isEmpty()) {
        System.err.println("NetworkNamespaces: could not remove " + left);
      }
    } catch (RuntimeException e) {
      System.err.println("NetworkNamespaces: network teardown failed: " + e);
    }
  }

  // --- setup ---

  private void acquireLock() throws IOException {
    lockChannel = FileChannel.open(LOCK_FILE, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
    if (tryLock()) {
      return;
    }
    System.out.println("NetworkNamespaces: another run holds " + LOCK_FILE + "; waiting up to " + lockWait.toSeconds()
        + " s");
    if (!Await.within(lockWait, Duration.ofSeconds(1), this::tryLock)) {
      throw new IllegalStateException("another run holds " + LOCK_FILE + " (nodes in network namespaces are running"
          + " on this machine); gave up after " + lockWait.toSeconds() + " s");
    }
  }

  private boolean tryLock() {
    try {
      lock = lockChannel.tryLock();
    } catch (OverlappingFileLockException e) {
      lock = null; // another cluster in this JVM holds it
    } catch (IOException e) {
      throw new UncheckedIOException("could not lock " + LOCK_FILE, e);
    }
    return lock != null;
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
    lockChannel = null;
  }

  /**
   * Under the lock, any qkv-n<i> namespace, qkv-h<i> veth or qkvbr0 bridge, and any temporary
   * directory of a cluster in network namespaces, is a leftover of a killed run.
   */
  private static void removeLeftovers(String ip) {
    List<String> namespaces = listOurNamespaces(ip);
    List<String> links = listOurLinks(ip);
    List<Path> dirs = new ArrayList<>();
    try (Stream<Path> tmp = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
      tmp.filter(d -> d.getFileName().toString().startsWith(Cluster.tempDirPrefix(NAME)) && Files.isDirectory(d))
          .forEach(dirs::add);
    } catch (IOException e) {
      // nothing to clean there
    }
    if (namespaces.isEmpty() && links.isEmpty() && dirs.isEmpty()) {
      return;
    }
    System.out.println("NetworkNamespaces: removing what an earlier run left behind: namespaces " + namespaces
        + " (and the JVMs in them), links " + links + ", directories " + dirs);
    removeOurNetwork(ip);
    dirs.forEach(FileTrees::delete);
  }

  private void refuseIfSubnetTaken() {
    OsCommands.Result addrs = OsCommands.runOk(List.of(ip, "-o", "-4", "addr", "show", "to", SUBNET));
    OsCommands.Result routes = OsCommands.runOk(List.of(ip, "-4", "route", "show", "exact", SUBNET));
    if (!addrs.output().isBlank() || !routes.output().isBlank()) {
      throw new IllegalStateException(SUBNET + " is already in use in the root namespace, by something this harness"
          + " did not create; it will not touch it:\n" + addrs.output() + routes.output());
    }
  }

  private void createNetwork() {
    OsCommands.runOk(List.of(ip, "link", "add", BRIDGE, "type", "bridge"));
    OsCommands.runOk(List.of(ip, "addr", "add", BRIDGE_ADDRESS + "/24", "dev", BRIDGE));
    OsCommands.runOk(List.of(ip, "link", "set", BRIDGE, "up"));
    for (int n = 0; n < Cluster.NODES; n++) {
      String ns = namespace(n);
      String hostVeth = HOST_VETH_PREFIX + n;
      OsCommands.runOk(List.of(ip, "netns", "add", ns));
      OsCommands.runOk(List.of(ip, "link", "add", hostVeth, "type", "veth", "peer", "name", "qkv-p" + n, "netns", ns));
      OsCommands.runOk(List.of(ip, "link", "set", hostVeth, "master", BRIDGE));
      OsCommands.runOk(List.of(ip, "link", "set", hostVeth, "up"));
      OsCommands.runOk(List.of(ip, "-n", ns, "link", "set", "qkv-p" + n, "name", "eth0"));
      OsCommands.runOk(List.of(ip, "-n", ns, "addr", "add", address(n) + "/24", "dev", "eth0"));
      OsCommands.runOk(List.of(ip, "-n", ns, "link", "set", "eth0", "up"));
      OsCommands.runOk(List.of(ip, "-n", ns, "link", "set", "lo", "up"));
    }
  }

  /** Every node reaches every other node and the root namespace reaches every node (a fresh veth may take a moment). */
  private void verifyFullMesh(String when) {
    List<String> problems = new ArrayList<>();
    boolean mesh = Await.within(MESH_SETTLES, Duration.ofMillis(500), () -> {
      problems.clear();
      for (int a = 0; a < Cluster.NODES; a++) {
        for (int b = 0; b < Cluster.NODES; b++) {
          if (a != b) {
            Reach r = probe(a, b);
            if (!r.reachable() && r != Reach.UNKNOWN) {
              problems.add(Cluster.nodeId(a) + "->" + Cluster.nodeId(b) + " " + r);
            }
          }
        }
        Reach r = probeFromRoot(a);
        if (!r.reachable()) {
          problems.add("root->" + Cluster.nodeId(a) + " " + r);
        }
      }
      return problems.isEmpty();
    });
    if (!mesh) {
      throw new IllegalStateException("the namespaces cannot reach each other " + when + " (a firewall on bridged"
          + " traffic, e.g. br_netfilter with a DROP policy on FORWARD?): " + problems);
    }
  }

  private void addBlackhole(int from, int to) {
    OsCommands.runOk(List.of(ip, "-n", namespace(from), "route", "add", "blackhole", address(to) + "/32"));
    blackholes.add(List.of(from, to));
  }

  private static List<String> listOurNamespaces(String ip) {
    OsCommands.Result r = OsCommands.run(List.of(ip, "netns", "list"));
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
    OsCommands.Result r = OsCommands.run(List.of(ip, "-o", "link", "show"));
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
    OsCommands.Result r = OsCommands.run(List.of(ip, "netns", "pids", ns));
    List<Long> pids = r.output().lines().map(String::strip).filter(s -> s.matches("\\d+")).map(Long::parseLong)
        .toList();
    for (long pid : pids) {
      ProcessHandle.of(pid).ifPresent(h -> {
        h.destroyForcibly();
        try {
          h.onExit().get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
          System.err.println("NetworkNamespaces: pid " + pid + " in " + ns + " did not exit after SIGKILL: " + e);
        }
      });
    }
  }

  private static Set<Integer> majorityOf(Set<Integer> minority) {
    Set<Integer> majority = new TreeSet<>();
    for (int n = 0; n < Cluster.NODES; n++) {
      if (!minority.contains(n)) {
        majority.add(n);
      }
    }
    return majority;
  }

  @Override
  public String toString() {
    return "network namespaces " + namespace(0) + ".." + namespace(Cluster.NODES - 1) + ", bridge " + BRIDGE + " "
        + BRIDGE_ADDRESS + "/24";
  }

  // --- clean-up entry point ---

  /**
   * {@code java -cp jepsen/target/quorumkv-jepsen.jar quorumkv.harness.NetworkNamespaces --clean-up}
   * (as root): removes what a run that was killed (SIGKILL, so no shutdown hook) left behind.
   */
  public static void main(String[] args) {
    System.exit(new CommandLine(new CleanUp()).execute(args));
  }

  @Command(name = "NetworkNamespaces", sortOptions = false,
      description = "Removes what a run killed with SIGKILL left behind: node JVMs, network namespaces qkv-n*, veths"
          + " qkv-h*, bridge " + BRIDGE + ", temporary directories. A later run does the same before it starts."
          + " Needs root.",
      footer = "exit status: 0 clean, 1 a run is in progress (it holds the lock), 2 cannot clean up here")
  static final class CleanUp implements Callable<Integer> {
    @Option(names = "--clean-up", required = true, description = "remove the leftovers of a killed run")
    boolean cleanUp;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "show this help and exit")
    boolean help;

    @Override
    public Integer call() {
      String why = unavailableReason();
      if (why != null) {
        System.err.println(why);
        return 2;
      }
      try (FileChannel channel = FileChannel.open(LOCK_FILE, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
          FileLock held = channel.tryLock()) {
        if (held == null) {
          System.err.println("a run is in progress (it holds " + LOCK_FILE + "); not cleaning up");
          return 1;
        }
        removeLeftovers(OsCommands.findExecutable("ip").orElseThrow());
        System.out.println("NetworkNamespaces: clean");
        return 0;
      } catch (IOException e) {
        System.err.println("could not take " + LOCK_FILE + ": " + e);
        return 2;
      }
    }
  }
}
