package quorumkv.tools;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalInt;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.stream.Collectors;
import org.apache.hc.client5.http.ConnectTimeoutException;
import org.apache.hc.client5.http.async.methods.SimpleHttpRequest;
import org.apache.hc.client5.http.async.methods.SimpleHttpResponse;
import org.apache.hc.client5.http.async.methods.SimpleRequestBuilder;
import org.apache.hc.client5.http.config.ConnectionConfig;
import org.apache.hc.client5.http.config.RequestConfig;
import org.apache.hc.client5.http.impl.async.CloseableHttpAsyncClient;
import org.apache.hc.client5.http.impl.async.HttpAsyncClients;
import org.apache.hc.client5.http.impl.nio.PoolingAsyncClientConnectionManagerBuilder;
import org.apache.hc.core5.concurrent.FutureCallback;
import org.apache.hc.core5.http.ContentType;
import org.apache.hc.core5.reactor.IOReactorConfig;
import org.apache.hc.core5.util.Timeout;

/**
 * Load generator for the store's write path ({@code PUT /kv/{key}}), or its read path with
 * {@code --mode read}.
 *
 * <p>Closed loop: exactly {@code clients} requests are in flight at once, and each client sends
 * its next request as soon as its previous one has finished. The throughput it reports is what the
 * cluster sustains at that concurrency, not an offered rate. Requests go round-robin over the nodes;
 * request i writes key {@code bench-<i mod keys>}.
 *
 * <p>{@link #run(Options)} is the programmatic entry point (the quorum sweep calls it once per W):
 * options in, {@link Result} out, nothing printed but the optional progress bar on stderr. Its
 * command line ({@code ./kv bench}) is {@link WriteBenchCommand}.
 *
 * <p>Usage: {@code java -cp tools/target/quorumkv-tools.jar quorumkv.tools.WriteBench [options]}
 */
public final class WriteBench {

  private static final long PROGRESS_INTERVAL_MILLIS = 200;

  public enum Mode {
    WRITE("writes", "w/s"),
    READ("reads", "r/s");

    private final String requestNoun;
    private final String rateUnit;

    Mode(String requestNoun, String rateUnit) {
      this.requestNoun = requestNoun;
      this.rateUnit = rateUnit;
    }

    /** A read of a key nobody has written yet is still a served read. */
    public boolean isSuccess(int status) {
      return status == 200 || (this == READ && status == 404);
    }
  }

  public record Options(
      List<URI> nodes,
      Mode mode,
      int requests,
      int clients,
      OptionalInt writeQuorum,
      int keys,
      int valueSizeBytes,
      Duration requestTimeout,
      boolean showProgress) {

    public Options {
      nodes = List.copyOf(nodes);
      if (nodes.isEmpty()) {
        throw new IllegalArgumentException("--nodes needs at least one node");
      }
      for (URI node : nodes) {
        if (node.getHost() == null || !List.of("http", "https").contains(node.getScheme())) {
          throw new IllegalArgumentException("--nodes: not an http URL: " + node);
        }
      }
      requireAtLeast("--writes", requests, 1);
      requireAtLeast("--clients", clients, 1);
      requireAtLeast("--keys", keys, 1);
      requireAtLeast("--value-size", valueSizeBytes, 0);
      if (writeQuorum.isPresent()) {
        requireAtLeast("--w", writeQuorum.getAsInt(), 0);
        if (mode == Mode.READ) {
          throw new IllegalArgumentException("--w applies to writes only, not to --mode read");
        }
      }
      if (requestTimeout.isNegative() || requestTimeout.isZero()) {
        throw new IllegalArgumentException("--timeout-ms must be positive, got " + requestTimeout.toMillis());
      }
    }

    public static Options defaults() {
      return new Options(NodeAddresses.LOCAL.uris(), Mode.WRITE, 10_000, 20, OptionalInt.empty(), 100, 100,
          Duration.ofSeconds(10), true);
    }

    public Options withWriteQuorum(int w) {
      return new Options(nodes, mode, requests, clients, OptionalInt.of(w), keys, valueSizeBytes,
          requestTimeout, showProgress);
    }

    public Options withProgress(boolean show) {
      return new Options(nodes, mode, requests, clients, writeQuorum, keys, valueSizeBytes,
          requestTimeout, show);
    }

    private static void requireAtLeast(String option, int value, int minimum) {
      if (value < minimum) {
        throw new IllegalArgumentException(option + " must be at least " + minimum + ", got " + value);
      }
    }
  }

  /**
   * What a run measured. Outcomes are counted by HTTP status ("200", "503", ...) or, for requests
   * that got no response, by what went wrong ("timeout", "connect-error", ...). Latency covers
   * successful requests only, and throughput counts successful requests per second of the run.
   */
  public record Result(
      Options options,
      Map<String, Long> successesByStatus,
      Map<String, Long> errorsByStatus,
      Duration duration,
      LatencyRecorder.Summary latency) {

    public Result {
      successesByStatus = Collections.unmodifiableMap(new TreeMap<>(successesByStatus));
      errorsByStatus = Collections.unmodifiableMap(new TreeMap<>(errorsByStatus));
    }

    public long successes() {
      return successesByStatus.values().stream().mapToLong(Long::longValue).sum();
    }

    public long errors() {
      return errorsByStatus.values().stream().mapToLong(Long::longValue).sum();
    }

    public double throughputPerSecond() {
      double seconds = duration.toNanos() / 1e9;
      return seconds > 0 ? successes() / seconds : 0;
    }

    /** The human-readable block printed at the end of a command-line run. */
    public String report() {
      Mode mode = options.mode();
      String target = mode == Mode.WRITE
          ? "PUT, " + options.valueSizeBytes() + " B values over " + options.keys() + " keys"
          : "GET over " + options.keys() + " keys";
      StringBuilder report = new StringBuilder();
      appendLine(report, mode.requestNoun, options.requests() + " (" + target + ", round-robin over "
          + options.nodes().size() + (options.nodes().size() == 1 ? " node)" : " nodes)"));
      appendLine(report, "clients", String.valueOf(options.clients()));
      if (mode == Mode.WRITE) {
        appendLine(report, "W", options.writeQuorum().isPresent()
            ? String.valueOf(options.writeQuorum().getAsInt()) : "server default");
      }
      appendLine(report, "succeeded", successes()
          + (successesByStatus.size() > 1 ? " (" + byStatus(successesByStatus) + ")" : ""));
      appendLine(report, "errors", errors() == 0 ? "0" : errors() + " (" + byStatus(errorsByStatus) + ")");
      appendLine(report, "duration", String.format(Locale.ROOT, "%.3f s", duration.toNanos() / 1e9));
      appendLine(report, "throughput", String.format(Locale.ROOT, "%.1f successful %s/s",
          throughputPerSecond(), mode.requestNoun));
      appendLine(report, "latency ms", latency.count() == 0
          ? "no successful requests"
          : String.format(Locale.ROOT, "p50 %.3f  p95 %.3f  p99 %.3f  max %.3f  mean %.3f",
              latency.p50Ms(), latency.p95Ms(), latency.p99Ms(), latency.maxMs(), latency.meanMs()));
      return report.toString();
    }

    /** The result as JSON-ready fields, in a stable order; {@code w} is null for the server's default. */
    public Map<String, Object> jsonFields() {
      Map<String, Object> latencyMs = new LinkedHashMap<>();
      latencyMs.put("count", latency.count());
      latencyMs.put("p50", latency.p50Ms());
      latencyMs.put("p95", latency.p95Ms());
      latencyMs.put("p99", latency.p99Ms());
      latencyMs.put("max", latency.maxMs());
      latencyMs.put("mean", latency.meanMs());

      Map<String, Object> fields = new LinkedHashMap<>();
      fields.put("mode", options.mode().name().toLowerCase(Locale.ROOT));
      fields.put("nodes", options.nodes().stream().map(URI::toString).toList());
      fields.put("requests", options.requests());
      fields.put("clients", options.clients());
      fields.put("w", options.writeQuorum().isPresent() ? options.writeQuorum().getAsInt() : null);
      fields.put("keys", options.keys());
      fields.put("valueSizeBytes", options.valueSizeBytes());
      fields.put("timeoutMs", options.requestTimeout().toMillis());
      fields.put("successes", successes());
      fields.put("successesByStatus", successesByStatus);
      fields.put("errors", errors());
      fields.put("errorsByStatus", errorsByStatus);
      fields.put("durationMs", duration.toMillis());
      fields.put("throughputPerSec", Math.round(throughputPerSecond() * 10) / 10.0);
      fields.put("latencyMs", latencyMs);
      return fields;
    }

    private static String byStatus(Map<String, Long> counts) {
      return counts.entrySet().stream()
          .map(count -> count.getKey() + ": " + count.getValue())
          .collect(Collectors.joining(", "));
    }

    private static void appendLine(StringBuilder report, String label, String value) {
      report.append(String.format(Locale.ROOT, "%-11s %s%n", label, value));
    }
  }

  private WriteBench() {
  }

  /** {@code ./kv bench}: see {@link WriteBenchCommand}, or run with {@code --help}. */
  public static void main(String[] args) {
    ToolCommandLine.exit(new WriteBenchCommand(), args);
  }

  /** Runs the benchmark to completion: returns once every one of the requests has finished. */
  public static Result run(Options options) {
    return run(options, new LatencyRecorder(options.requests()));
  }

  /**
   * As {@link #run(Options)}, recording the latency of each successful request into
   * {@code latencies} as well, for callers that want the raw samples (e.g. for a histogram).
   */
  public static Result run(Options options, LatencyRecorder latencies) {
    int clientCount = Math.min(options.clients(), options.requests());
    try (CloseableHttpAsyncClient http = asyncClient(options, clientCount)) {
      http.start();
      ClosedLoop loop = new ClosedLoop(options, http, latencies);
      long startNanos = System.nanoTime();
      for (int client = 0; client < clientCount; client++) {
        loop.sendNext();
      }
      ProgressBar progress = options.showProgress()
          ? new ProgressBar(System.err, options.requests(), options.mode().rateUnit, startNanos)
          : null;
      try {
        while (!loop.awaitAll(PROGRESS_INTERVAL_MILLIS)) {
          if (progress != null) {
            progress.draw(loop.completed(), System.nanoTime());
          }
        }
      } catch (InterruptedException e) {
        loop.stop();
        Thread.currentThread().interrupt();
        throw new IllegalStateException("benchmark interrupted", e);
      }
      long endNanos = System.nanoTime();
      if (progress != null) {
        progress.finish(loop.completed(), endNanos);
      }
      return loop.result(Duration.ofNanos(endNanos - startNanos));
    } catch (IOException closeFailed) {
      throw new UncheckedIOException("closing the benchmark's HTTP client", closeFailed);
    }
  }

  /**
   * An asynchronous HTTP/1.1 client on one I/O thread: like wrk, it keeps every connection's next
   * request going from the response's callback on that thread, with no thread per client and no
   * hand-off per response. One connection per client and node at most; no retries, redirects or
   * cookies; connect and response timeouts of {@code --timeout-ms}.
   */
  private static CloseableHttpAsyncClient asyncClient(Options options, int clientCount) {
    Timeout timeout = Timeout.of(options.requestTimeout());
    ConnectionConfig connections = ConnectionConfig.custom()
        .setConnectTimeout(timeout)
        .setSocketTimeout(timeout)
        .build();
    return HttpAsyncClients.custom()
        .setIOReactorConfig(IOReactorConfig.custom().setIoThreadCount(1).setTcpNoDelay(true).build())
        .setConnectionManager(PoolingAsyncClientConnectionManagerBuilder.create()
            .setMaxConnPerRoute(clientCount)
            .setMaxConnTotal(clientCount * options.nodes().size())
            .setDefaultConnectionConfig(connections)
            .build())
        .setDefaultRequestConfig(RequestConfig.custom().setResponseTimeout(timeout).build())
        .setThreadFactory(daemonThreads("write-bench-io-"))
        .disableAutomaticRetries()
        .disableRedirectHandling()
        .disableCookieManagement()
        .disableAuthCaching()
        .disableConnectionState()
        .build();
  }

  private static ThreadFactory daemonThreads(String namePrefix) {
    AtomicInteger threadNumber = new AtomicInteger();
    return task -> {
      Thread thread = new Thread(task, namePrefix + threadNumber.incrementAndGet());
      thread.setDaemon(true);
      return thread;
    };
  }

  /**
   * The requests of one run and what they have counted so far. A client is not a thread: it is a
   * request in flight whose completion (on the HTTP client's I/O thread) sends the client's next
   * request, until none are left; the run is over when the last outcome is counted.
   */
  private static final class ClosedLoop {
    private final Options options;
    private final CloseableHttpAsyncClient http;
    private final List<String> nodeBaseUrls;
    private final String query;
    private final byte[] value;
    private final AtomicInteger nextRequest = new AtomicInteger();
    private final AtomicInteger completed = new AtomicInteger();
    private final AtomicInteger inFlight = new AtomicInteger();
    private final CountDownLatch allDone = new CountDownLatch(1);
    private final LatencyRecorder latencies;
    private final ConcurrentMap<String, LongAdder> successesByStatus = new ConcurrentHashMap<>();
    private final ConcurrentMap<String, LongAdder> errorsByStatus = new ConcurrentHashMap<>();

    ClosedLoop(Options options, CloseableHttpAsyncClient http, LatencyRecorder latencies) {
      this.options = options;
      this.http = http;
      this.latencies = latencies;
      this.nodeBaseUrls = options.nodes().stream().map(ClosedLoop::withoutTrailingSlash).toList();
      this.query = options.writeQuorum().isPresent() ? "?w=" + options.writeQuorum().getAsInt() : "";
      this.value = "v".repeat(options.valueSizeBytes()).getBytes(StandardCharsets.US_ASCII);
    }

    /**
     * One client's next request, if any are left; its callback counts the outcome and sends the
     * same client's next one. When no request is left and none is in flight, the run is done.
     */
    void sendNext() {
      inFlight.incrementAndGet();
      int index = nextRequest.getAndIncrement();
      if (index >= options.requests()) {
        finishedOne();
        return;
      }
      long sentNanos = System.nanoTime();
      http.execute(requestFor(index), new FutureCallback<>() {
        @Override
        public void completed(SimpleHttpResponse response) {
          countResponse(response.getCode(), System.nanoTime() - sentNanos);
          sendNextAfter();
        }

        @Override
        public void failed(Exception failure) {
          countError(failureKind(failure));
          sendNextAfter();
        }

        @Override
        public void cancelled() {
          countError("cancelled");
          sendNextAfter();
        }
      });
    }

    private void sendNextAfter() {
      sendNext();
      finishedOne();
    }

    private void finishedOne() {
      if (inFlight.decrementAndGet() == 0) {
        allDone.countDown();
      }
    }

    /** Waits up to {@code millis} for every request's outcome; true once all are counted. */
    boolean awaitAll(long millis) throws InterruptedException {
      return allDone.await(millis, TimeUnit.MILLISECONDS);
    }

    int completed() {
      return completed.get();
    }

    /** Clients finish their request in flight and send no more. */
    void stop() {
      nextRequest.set(options.requests());
    }

    Result result(Duration duration) {
      return new Result(options, totals(successesByStatus), totals(errorsByStatus), duration,
          latencies.summarize());
    }

    private SimpleHttpRequest requestFor(int index) {
      URI uri = URI.create(nodeBaseUrls.get(index % nodeBaseUrls.size())
          + "/kv/bench-" + (index % options.keys()) + query);
      return options.mode() == Mode.WRITE
          ? SimpleRequestBuilder.put(uri).setBody(value, ContentType.TEXT_PLAIN).build()
          : SimpleRequestBuilder.get(uri).build();
    }

    private void countResponse(int status, long latencyNanos) {
      if (options.mode().isSuccess(status)) {
        latencies.record(latencyNanos);
        count(successesByStatus, String.valueOf(status));
      } else {
        count(errorsByStatus, String.valueOf(status));
      }
      completed.incrementAndGet();
    }

    private void countError(String kind) {
      count(errorsByStatus, kind);
      completed.incrementAndGet();
    }

    private static void count(ConcurrentMap<String, LongAdder> counts, String status) {
      counts.computeIfAbsent(status, newStatus -> new LongAdder()).increment();
    }

    private static String failureKind(Exception failure) {
      if (failure instanceof ConnectTimeoutException) {
        return "connect-timeout";
      }
      if (failure instanceof SocketTimeoutException) {
        return "timeout";
      }
      if (failure instanceof ConnectException) {
        return "connect-error";
      }
      return "io-error";
    }

    private static Map<String, Long> totals(ConcurrentMap<String, LongAdder> counts) {
      Map<String, Long> totals = new TreeMap<>();
      counts.forEach((status, count) -> totals.put(status, count.sum()));
      return totals;
    }

    private static String withoutTrailingSlash(URI node) {
      String url = node.toString();
      return url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
    }
  }
}
