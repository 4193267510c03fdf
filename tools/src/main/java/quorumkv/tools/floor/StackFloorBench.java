package quorumkv.tools.floor;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorRefResolver;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.Behaviors;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import quorumkv.harness.FileTrees;
import quorumkv.storage.ActorSystemSetups;
import quorumkv.storage.SqliteStore;
import quorumkv.tools.LatencyRecorder;
import quorumkv.tools.ToolCommandLine;

/**
 * What the design card's stack costs on its own, as a floor under quorumkv's write figures: one
 * leader JVM and N follower JVMs on 127.0.0.1, Artery between them and akka-persistence-jdbc on
 * SQLite in each (the node's application.conf: its dispatcher, Artery and journal settings,
 * {@code synchronous=FULL}), running {@link FloorLeader}'s closed loop of clients against
 * {@link FloorReplica}s. None of quorumkv's own code or HTTP is on the path. Each row gives the
 * writes committed per second, their latency from the leader's append to its commit, and the CPU
 * the JVMs spent per write (utime + stime of all of them, as {@code bench/vs-etcd.sh} counts it).
 */
@Command(name = "StackFloorBench", mixinStandardHelpOptions = true, versionProvider = ToolCommandLine.Version.class,
    sortOptions = false, usageHelpAutoWidth = true,
    description = {"The design card's stack alone (Artery, akka-persistence-jdbc on SQLite, one JVM per replica) "
        + "under a closed loop of clients: writes/s, latency and CPU per write with none of quorumkv's code.",
        "Run as: java @jvm.options -cp tools/target/quorumkv-tools.jar quorumkv.tools.floor.StackFloorBench [options]"},
    footer = "Exits 0 after the report, 1 when a JVM fails, 2 on bad options.")
public final class StackFloorBench implements Callable<Integer> {

  @Spec
  private CommandSpec spec;

  @Option(names = "--followers", paramLabel = "N", description = "Follower JVMs (default: ${DEFAULT-VALUE}).")
  int followers = 5;

  @Option(names = "--w", paramLabel = "W", description = "Followers a write waits for, besides the leader's own replica (default: ${DEFAULT-VALUE}).")
  int writeQuorum = 3;

  @Option(names = "--max-batch", paramLabel = "ENTRIES",
      description = "Entries per append at most; the node's max-batch-entries is 1000 (default: ${DEFAULT-VALUE}).")
  int maxBatch = 1000;

  @Option(names = "--value-size", paramLabel = "BYTES", description = "Bytes per value (default: ${DEFAULT-VALUE}).")
  int valueSize = 100;

  @Option(names = "--clients", paramLabel = "C[,C...]", split = ",",
      description = "One measured row per client count, in this order (default: 60,240,1).")
  List<Integer> rows = new ArrayList<>(List.of(60, 240, 1));

  @Option(names = "--warmup", paramLabel = "SECONDS", description = "Unmeasured writes at the first row's clients first (default: ${DEFAULT-VALUE}).")
  int warmupSeconds = 60;

  @Option(names = "--duration", paramLabel = "SECONDS", description = "Each row's measured time (default: ${DEFAULT-VALUE}).")
  int durationSeconds = 20;

  @Option(names = "--base-port", paramLabel = "PORT", description = "Artery port of the leader; followers take the next ones (default: ${DEFAULT-VALUE}).")
  int basePort = 2850;

  /** Set in a follower JVM only: its replica number, data directory and port. */
  @Option(names = "--replica", hidden = true)
  Integer replica;

  @Option(names = "--data", hidden = true)
  Path data;

  public static void main(String[] args) {
    ToolCommandLine.exit(new StackFloorBench(), args);
  }

  void validate() {
    if (followers < 1 || writeQuorum < 1 || writeQuorum > followers) {
      throw new ParameterException(spec.commandLine(), "need 1 <= --w <= --followers, got --w " + writeQuorum
          + " --followers " + followers);
    }
    if (maxBatch < 1 || valueSize < 1 || warmupSeconds < 0 || durationSeconds < 1 || rows.isEmpty()
        || rows.stream().anyMatch(c -> c < 1 || c > 100_000)) {
      throw new ParameterException(spec.commandLine(),
          "need --max-batch >= 1, --value-size >= 1, --warmup >= 0, --duration >= 1 and client counts within 1..100000");
    }
    if (basePort < 1024 || basePort + followers > 65535) {
      throw new ParameterException(spec.commandLine(), "--base-port must leave room for " + (followers + 1) + " ports");
    }
  }

  @Override
  public Integer call() throws Exception {
    validate();
    if (replica != null) {
      runFollower();
      return 0;
    }
    Path dir = Files.createTempDirectory("quorumkv-floor");
    List<Process> children = new ArrayList<>();
    Thread stopChildren = new Thread(() -> children.forEach(Process::destroyForcibly));
    Runtime.getRuntime().addShutdownHook(stopChildren);
    try {
      return runLeader(dir, children);
    } finally {
      for (Process p : children) {
        p.getOutputStream().close(); // the follower exits when its standard input ends
      }
      for (Process p : children) {
        if (!p.waitFor(20, TimeUnit.SECONDS)) {
          p.destroyForcibly().waitFor();
        }
      }
      Runtime.getRuntime().removeShutdownHook(stopChildren);
      FileTrees.delete(dir);
    }
  }

  private static Config config(int port, Path dataDir) {
    return ConfigFactory.parseString("""
        akka.actor.provider = remote
        akka.loglevel = ERROR
        akka.remote.warn-about-direct-use = off
        akka.remote.artery.canonical.hostname = "127.0.0.1"
        akka.remote.artery.canonical.port = %d
        quorumkv.data-dir = "%s"
        """.formatted(port, dataDir))
        .withFallback(ConfigFactory.parseResources("application.conf"))
        .withFallback(ConfigFactory.defaultReference()).resolve();
  }

  /** A follower: its replica as the ActorSystem's guardian until the leader closes our standard input. */
  private void runFollower() throws Exception {
    SqliteStore.prepare(data);
    ActorSystem<FloorReplica.Append> system = ActorSystem.create(FloorReplica.create(replica), "floor",
        ActorSystemSetups.of(config(basePort + replica, data)));
    System.out.println("READY");
    System.out.flush();
    while (System.in.read() >= 0) {
      // the leader never writes; end of input means it is done or gone
    }
    system.terminate();
    system.getWhenTerminated().toCompletableFuture().get(20, TimeUnit.SECONDS);
  }

  private int runLeader(Path dir, List<Process> children) throws Exception {
    List<String> jvm = new ArrayList<>();
    jvm.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    jvm.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
    jvm.addAll(List.of("-cp", System.getProperty("java.class.path"), StackFloorBench.class.getName()));
    List<CompletableFuture<Void>> ready = new ArrayList<>();
    for (int r = 1; r <= followers; r++) {
      List<String> command = new ArrayList<>(jvm);
      command.addAll(List.of("--replica", Integer.toString(r), "--data", dir.resolve("replica" + r).toString(),
          "--base-port", Integer.toString(basePort)));
      Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
      children.add(p);
      ready.add(echoUntilReady(p, "follower " + r));
    }

    Path own = dir.resolve("replica0");
    SqliteStore.prepare(own);
    ActorSystem<FloorLeader.Command> system = ActorSystem.create(Behaviors.setup(ctx -> {
      ActorRefResolver resolver = ActorRefResolver.get(ctx.getSystem());
      List<ActorRef<FloorReplica.Append>> refs = new ArrayList<>();
      for (int r = 1; r <= followers; r++) {
        refs.add(resolver.resolveActorRef("akka://floor@127.0.0.1:" + (basePort + r) + "/user"));
      }
      return FloorLeader.create(refs, writeQuorum, maxBatch, valueSize);
    }), "floor", ActorSystemSetups.of(config(basePort, own)));
    try {
      CompletableFuture.allOf(ready.toArray(CompletableFuture[]::new)).get(120, TimeUnit.SECONDS);
      System.out.printf(Locale.ROOT, "stack floor: 1 leader + %d follower JVMs, W=%d (+ the leader's own replica), "
          + "%d-byte values, at most %d entries per append, warm-up %d s at %d clients, rows of %d s%n",
          followers, writeQuorum, valueSize, maxBatch, warmupSeconds, rows.get(0), durationSeconds);
      system.tell(new FloorLeader.SetClients(rows.get(0)));
      sleepWatching(Duration.ofSeconds(warmupSeconds), children);
      System.out.println("| clients | writes/s | p50 ms | p99 ms | CPU per write ms | entries per append | load (1 min) |");
      System.out.println("| --- | --- | --- | --- | --- | --- | --- |");
      for (int clients : rows) {
        system.tell(new FloorLeader.SetClients(clients));
        sleepWatching(Duration.ofSeconds(2), children);
        LatencyRecorder latencies = new LatencyRecorder(1 << 16);
        system.tell(new FloorLeader.OpenWindow(latencies));
        long cpuBefore = cpuNanos(children);
        long start = System.nanoTime();
        sleepWatching(Duration.ofSeconds(durationSeconds), children);
        CompletableFuture<FloorLeader.Window> closed = new CompletableFuture<>();
        system.tell(new FloorLeader.CloseWindow(closed));
        FloorLeader.Window w = closed.get(30, TimeUnit.SECONDS);
        double seconds = (System.nanoTime() - start) / 1e9;
        long cpu = cpuNanos(children) - cpuBefore;
        LatencyRecorder.Summary s = latencies.summarize();
        System.out.printf(Locale.ROOT, "| %d | %.0f | %.2f | %.2f | %.3f | %.1f | %s |%n", clients, w.committed() / seconds,
            s.p50Ms(), s.p99Ms(), w.committed() == 0 ? 0.0 : cpu / 1e6 / w.committed(),
            w.appends() == 0 ? 0.0 : (double) w.entriesSent() / w.appends(), loadAverage());
      }
      system.tell(new FloorLeader.SetClients(0));
    } finally {
      system.terminate();
      system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
    return 0;
  }

  /** Prints a child's output until it says READY; the future fails if it exits first. */
  private static CompletableFuture<Void> echoUntilReady(Process p, String name) {
    CompletableFuture<Void> ready = new CompletableFuture<>();
    Thread reader = new Thread(() -> {
      try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
        String line;
        while ((line = out.readLine()) != null) {
          if (line.equals("READY")) {
            ready.complete(null);
          } else {
            System.out.println("  [" + name + "] " + line);
          }
        }
      } catch (IOException e) {
        ready.completeExceptionally(e);
      }
      ready.completeExceptionally(new IllegalStateException(name + " exited"));
    }, name + " output");
    reader.setDaemon(true);
    reader.start();
    return ready;
  }

  private static void sleepWatching(Duration d, List<Process> children) throws InterruptedException {
    long end = System.nanoTime() + d.toNanos();
    while (System.nanoTime() < end) {
      for (Process p : children) {
        if (!p.isAlive()) {
          throw new IllegalStateException("a follower JVM exited with " + p.exitValue());
        }
      }
      TimeUnit.MILLISECONDS.sleep(Math.min(500, Math.max(1, (end - System.nanoTime()) / 1_000_000)));
    }
  }

  /** CPU time of this JVM and the followers' so far. */
  private static long cpuNanos(List<Process> children) {
    long total = ProcessHandle.current().info().totalCpuDuration().orElseThrow().toNanos();
    for (Process p : children) {
      total += p.info().totalCpuDuration().orElseThrow().toNanos();
    }
    return total;
  }

  private static String loadAverage() {
    try {
      return Files.readString(Path.of("/proc/loadavg")).split(" ")[0];
    } catch (IOException e) {
      return "?";
    }
  }
}
