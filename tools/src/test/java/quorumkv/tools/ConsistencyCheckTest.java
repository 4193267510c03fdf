package quorumkv.tools;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.junit.Test;
import picocli.CommandLine.ParameterException;
import quorumkv.harness.NodeClient;
import quorumkv.tools.ConsistencyCheck.Replica;
import quorumkv.tools.ConsistencyCheck.Verdict;

public class ConsistencyCheckTest {

  @Test
  public void urlsAndWaitParseAsKvCheckPassesThem() {
    ConsistencyCheck check = parse("--wait", "3", "http://127.0.0.1:8000/", "127.0.0.1:8001");

    assertEquals(List.of(URI.create("http://127.0.0.1:8000"), URI.create("http://127.0.0.1:8001")), check.nodes());
    assertEquals(Duration.ofSeconds(3), check.patience());
  }

  @Test
  public void withoutUrlsItChecksTheLocalClusterForTenSeconds() {
    ConsistencyCheck check = parse();

    assertEquals(NodeAddresses.LOCAL.uris(), check.nodes());
    assertEquals(Duration.ofSeconds(10), check.patience());
  }

  @Test
  public void badValuesAreUsageErrors() {
    assertThrows(ParameterException.class, () -> parse("--wait", "soon"));
    assertThrows(ParameterException.class, () -> parse("--wait", "-1").patience());
    assertThrows(ParameterException.class, () -> parse("ftp://127.0.0.1:8000"));
    assertThrows(ParameterException.class, () -> parse("--wait"));

    StringWriter err = new StringWriter();
    int status = ToolCommandLine.of(new ConsistencyCheck()).setErr(new PrintWriter(err)).execute("--wait", "-1");
    assertEquals(2, status);
    assertTrue(err.toString(), err.toString().contains("--wait must be at least 0 seconds"));
  }

  @Test
  public void aReplicaIsReadFromItsStatusAndANodeThatDoesNotAnswerIsDown() throws IOException {
    HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext("/status", exchange -> {
      byte[] body = """
          {"node":"node1","role":"follower","appliedIndex":42,"keyCount":7,"digest":"abc"}"""
          .getBytes(StandardCharsets.UTF_8);
      exchange.sendResponseHeaders(200, body.length);
      exchange.getResponseBody().write(body);
      exchange.close();
    });
    server.start();
    NodeClient client = new NodeClient(Duration.ofSeconds(2));
    try {
      URI node = URI.create("http://127.0.0.1:" + server.getAddress().getPort());

      Replica replica = ConsistencyCheck.fetch(client, node);

      assertEquals(new Replica(node, "node1", "follower", 42, 7, "abc", null), replica);
    } finally {
      server.stop(0);
    }

    Replica down = ConsistencyCheck.fetch(client, URI.create("http://127.0.0.1:" + freePort()));
    assertFalse(down.up());
    Replica leader = new Replica(URI.create("http://127.0.0.1:1"), "node0", "leader", 42, 7, "abc", null);
    assertEquals(Verdict.DOWN, ConsistencyCheck.verdict(down, leader));
  }

  @Test
  public void verdictsCompareIndexThenDigestWithTheLeaders() {
    Replica leader = replica("leader", 10, "d");

    assertEquals(Verdict.REFERENCE, ConsistencyCheck.verdict(leader, leader));
    assertEquals(Verdict.CONSISTENT, ConsistencyCheck.verdict(replica("follower", 10, "d"), leader));
    assertEquals(Verdict.BEHIND, ConsistencyCheck.verdict(replica("follower", 9, "c"), leader));
    assertEquals(Verdict.AHEAD, ConsistencyCheck.verdict(replica("follower", 11, "e"), leader));
    assertEquals(Verdict.DIVERGED, ConsistencyCheck.verdict(replica("follower", 10, "x"), leader));
    assertTrue(ConsistencyCheck.allConsistent(List.of(leader, replica("follower", 10, "d"))));
    assertFalse(ConsistencyCheck.allConsistent(List.of(replica("follower", 10, "d"))));
  }

  private static Replica replica(String role, long appliedIndex, String digest) {
    return new Replica(URI.create("http://127.0.0.1:1"), "n", role, appliedIndex, 1, digest, null);
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  private static ConsistencyCheck parse(String... args) {
    ConsistencyCheck check = new ConsistencyCheck();
    ToolCommandLine.of(check).parseArgs(args);
    return check;
  }
}
