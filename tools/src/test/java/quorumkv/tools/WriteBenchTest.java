package quorumkv.tools;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import org.junit.Test;

/** The load generator's outcomes when nodes do not answer: counted by kind, and the run ends. */
public class WriteBenchTest {

  @Test
  public void requestsToAPortNobodyListensOnAreConnectErrorsAndTheRunEnds() throws IOException {
    int closedPort;
    try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      closedPort = probe.getLocalPort();
    }
    WriteBench.Result result = WriteBench.run(options(closedPort, 50, 5, Duration.ofSeconds(5)));

    assertEquals(0, result.successes());
    assertEquals(Map.of("connect-error", 50L), result.errorsByStatus());
    assertEquals(0, result.latency().count());
  }

  @Test
  public void aNodeThatAcceptsButNeverAnswersGivesTimeoutsAfterTheRequestTimeout() throws IOException {
    try (ServerSocket silent = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      long start = System.nanoTime();
      WriteBench.Result result = WriteBench.run(options(silent.getLocalPort(), 4, 2, Duration.ofMillis(300)));
      Duration took = Duration.ofNanos(System.nanoTime() - start);

      assertEquals(Map.of("timeout", 4L), result.errorsByStatus());
      // Two clients, two requests each, one after the other: at least two timeouts long.
      assertTrue("took " + took, took.compareTo(Duration.ofMillis(600)) >= 0);
    }
  }

  private static WriteBench.Options options(int port, int requests, int clients, Duration timeout) {
    return new WriteBench.Options(List.of(URI.create("http://127.0.0.1:" + port)), WriteBench.Mode.WRITE,
        requests, clients, OptionalInt.of(3), 10, 10, timeout, false);
  }
}
