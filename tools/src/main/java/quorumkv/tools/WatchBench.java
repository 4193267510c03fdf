package quorumkv.tools;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import quorumkv.harness.NodeClient;

/**
 * Watch fan-out: opens {@code --streams} watch streams on one follower, writes to the leader at
 * {@code --rate} writes/s for {@code --duration}, and reports the delay from each write's ack to
 * its event on every stream (percentiles over writes x streams; an event that arrives before the
 * ack counts as 0), events missing or repeated, and the write rate reached.
 *
 * <p>Usage: {@code java -cp tools/target/quorumkv-tools.jar quorumkv.tools.WatchBench --streams 100 --rate 1000}
 */
@Command(name = "WatchBench", mixinStandardHelpOptions = true, versionProvider = ToolCommandLine.Version.class,
    sortOptions = false, usageHelpAutoWidth = true,
    description = {"Delay from an acknowledged write to its watch event on many streams of one node.",
        "Class: quorumkv.tools.WatchBench in tools/target/quorumkv-tools.jar."},
    footer = "Exits 0 when every stream got every acknowledged write exactly once, 1 otherwise, 2 on bad options.")
public final class WatchBench implements Callable<Integer> {
  private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(10);

  @Option(names = "--nodes", paramLabel = "URL,URL,...", split = ",", converter = NodeAddresses.UriConverter.class,
      description = "The nodes (default: http://127.0.0.1:8000 .. http://127.0.0.1:8005).")
  List<URI> nodes;

  @Option(names = "--streams", paramLabel = "N", description = "Watch streams on the watched node (default: ${DEFAULT-VALUE}).")
  int streams = 100;

  @Option(names = "--rate", paramLabel = "W", description = "Writes per second offered (default: ${DEFAULT-VALUE}).")
  int rate = 1000;

  @Option(names = "--clients", paramLabel = "C", description = "Writer threads (default: ${DEFAULT-VALUE}).")
  int clients = 32;

  @Option(names = "--duration", paramLabel = "SECONDS", description = "Seconds of writes (default: ${DEFAULT-VALUE}).")
  int durationSeconds = 30;

  @Option(names = "--keys", paramLabel = "K", description = "Distinct keys written (default: ${DEFAULT-VALUE}).")
  int keys = 100;

  public static void main(String[] args) {
    ToolCommandLine.exit(new WatchBench(), args);
  }

  /** One stream's events: (version, arrival nanos) pairs in arrival order. */
  private static final class Arrivals {
    long[] pairs = new long[4096];
    int n;

    synchronized void add(long version, long nanos) {
      if (n + 2 > pairs.length) {
        pairs = Arrays.copyOf(pairs, pairs.length * 2);
      }
      pairs[n++] = version;
      pairs[n++] = nanos;
    }
  }

  @Override
  public Integer call() throws Exception {
    List<URI> all = nodes == null || nodes.isEmpty() ? NodeAddresses.LOCAL.uris() : nodes;
    NodeClient client = new NodeClient(REQUEST_TIMEOUT);
    Optional<URI> leader = all.stream().filter(n -> client.status(n)
        .map(s -> "leader".equals(s.path("role").asText())).orElse(false)).findFirst();
    if (leader.isEmpty()) {
      System.err.println("WatchBench: no node reports itself as leader in GET /status");
      return 1;
    }
    URI watched = all.stream().filter(n -> !n.equals(leader.get())).findFirst().orElseThrow();
    String prefix = "watchbench-" + System.currentTimeMillis() + "/";
    String load0 = loadAverage();

    HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    List<Arrivals> arrivals = new ArrayList<>();
    List<InputStream> bodies = new ArrayList<>();
    CountDownLatch open = new CountDownLatch(streams);
    AtomicInteger errors = new AtomicInteger();
    for (int i = 0; i < streams; i++) {
      Arrivals a = new Arrivals();
      arrivals.add(a);
      HttpResponse<InputStream> response = http.send(
          HttpRequest.newBuilder(NodeClient.resolve(watched, "/watch?prefix=" + prefix)).build(),
          HttpResponse.BodyHandlers.ofInputStream());
      if (response.statusCode() != 200) {
        System.err.println("WatchBench: GET /watch answered " + response.statusCode());
        return 1;
      }
      bodies.add(response.body());
      Thread reader = new Thread(() -> read(response.body(), a, errors), "stream-" + i);
      reader.setDaemon(true);
      reader.start();
      open.countDown();
    }
    open.await();

    Map<Long, Long> ackedAt = new ConcurrentHashMap<>();
    AtomicInteger failed = new AtomicInteger();
    long start = System.nanoTime();
    long end = start + Duration.ofSeconds(durationSeconds).toNanos();
    long intervalNanos = (long) (1e9 * clients / rate);
    List<Thread> writers = new ArrayList<>();
    for (int c = 0; c < clients; c++) {
      int id = c;
      Thread w = new Thread(() -> {
        long next = start + intervalNanos * id / clients;
        for (int i = 0; ; i++) {
          long now = System.nanoTime();
          if (now >= end) {
            return;
          }
          if (next > now) {
            LockSupport.parkNanos(next - now);
          }
          next += intervalNanos;
          NodeClient.Response r = client.put(leader.get(), prefix + "k" + ((id + i * clients) % keys), "v" + i, null);
          long acked = System.nanoTime();
          if (r.ok()) {
            ackedAt.put(r.body().path("version").asLong(), acked);
          } else {
            failed.incrementAndGet();
          }
        }
      }, "writer-" + c);
      w.start();
      writers.add(w);
    }
    for (Thread w : writers) {
      w.join();
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    long lastVersion = ackedAt.keySet().stream().mapToLong(Long::longValue).max().orElse(0);
    long settle = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (System.nanoTime() < settle && !allReached(arrivals, lastVersion)) {
      Thread.sleep(50); // poll interval of a condition wait
    }
    String load1 = loadAverage();
    for (InputStream b : bodies) {
      try {
        b.close();
      } catch (Exception ignored) {
        // closing a stream whose reader already ended
      }
    }

    Map<Long, Long> acks = new HashMap<>(ackedAt);
    long[] delays = new long[acks.size() * streams];
    int d = 0;
    long missing = 0;
    long repeated = 0;
    for (Arrivals a : arrivals) {
      Map<Long, Long> seen = new HashMap<>();
      synchronized (a) {
        long previous = 0;
        for (int i = 0; i < a.n; i += 2) {
          if (a.pairs[i] <= previous || seen.put(a.pairs[i], a.pairs[i + 1]) != null) {
            repeated++;
          }
          previous = Math.max(previous, a.pairs[i]);
        }
      }
      for (Map.Entry<Long, Long> ack : acks.entrySet()) {
        Long arrived = seen.get(ack.getKey());
        if (arrived == null) {
          missing++;
        } else {
          delays[d++] = Math.max(0, arrived - ack.getValue());
        }
      }
    }
    long[] sorted = Arrays.copyOf(delays, d);
    Arrays.sort(sorted);
    System.out.printf("WatchBench: %d streams on %s, writes to %s offered at %d/s by %d clients for %d s%n",
        streams, watched, leader.get(), rate, clients, durationSeconds);
    System.out.printf("  writes acknowledged %d (%.0f/s), failed %d; events delivered %d (%.0f/s over all streams)%n",
        acks.size(), acks.size() / seconds, failed.get(), d, d / seconds);
    if (sorted.length > 0) {
      System.out.printf("  ack -> event delay (ms): p50 %.2f  p90 %.2f  p99 %.2f  max %.2f%n", pct(sorted, 50),
          pct(sorted, 90), pct(sorted, 99), sorted[sorted.length - 1] / 1e6);
    }
    System.out.printf("  missing %d, repeated or out of order %d, stream errors %d; load average before %s, after %s%n",
        missing, repeated, errors.get(), load0, load1);
    return missing == 0 && repeated == 0 ? 0 : 1;
  }

  private static boolean allReached(List<Arrivals> arrivals, long version) {
    for (Arrivals a : arrivals) {
      synchronized (a) {
        if (a.n == 0 || a.pairs[a.n - 2] < version) {
          return false;
        }
      }
    }
    return true;
  }

  private static void read(InputStream body, Arrivals arrivals, AtomicInteger errors) {
    try (BufferedReader r = new BufferedReader(new InputStreamReader(body, StandardCharsets.UTF_8))) {
      String type = null;
      long id = -1;
      for (String line = r.readLine(); line != null; line = r.readLine()) {
        if (line.startsWith("event:")) {
          type = line.substring(6).trim();
        } else if (line.startsWith("id:")) {
          id = Long.parseLong(line.substring(3).trim());
        } else if (line.isEmpty()) {
          if ("put".equals(type) || "delete".equals(type) || "txn".equals(type)) {
            arrivals.add(id, System.nanoTime());
          } else if ("error".equals(type)) {
            errors.incrementAndGet();
          }
          type = null;
          id = -1;
        }
      }
    } catch (Exception e) {
      // closed at the end of the run
    }
  }

  private static String loadAverage() {
    try {
      return Files.readString(Path.of("/proc/loadavg")).trim().split(" ", 4)[0];
    } catch (Exception e) {
      return "?";
    }
  }

  private static double pct(long[] sorted, int p) {
    int i = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
    return sorted[Math.max(0, Math.min(sorted.length - 1, i))] / 1e6;
  }
}
