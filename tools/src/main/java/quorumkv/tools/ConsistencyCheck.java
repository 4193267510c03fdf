package quorumkv.tools;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import quorumkv.harness.NodeClient;

/**
 * {@code ./kv check}: compares every replica with the leader's, like the lab's consistency check.
 * A replica is CONSISTENT when it has applied the same log index as the leader's replica and has
 * the same state digest, BEHIND when it has applied less, DIVERGED when it is at the same index
 * with another digest.
 * Writes may be in flight, so it looks again for a few seconds before it calls anything behind.
 *
 * <p>Usage: {@code java -cp tools/target/quorumkv-tools.jar quorumkv.tools.ConsistencyCheck [--wait SECONDS] [URL...]}
 * Exit status 0 when every replica is consistent, 1 otherwise, 2 on bad options.
 */
@Command(name = "./kv check", mixinStandardHelpOptions = true, versionProvider = ToolCommandLine.Version.class,
    sortOptions = false, usageHelpAutoWidth = true,
    description = {"Compares every replica's applied index and state digest (GET /status) with the leader's.",
        "Class: quorumkv.tools.ConsistencyCheck in tools/target/quorumkv-tools.jar."},
    footer = "Exits 0 when every replica matches the leader, 1 otherwise, 2 on bad options.")
public final class ConsistencyCheck implements Callable<Integer> {
  private static final Duration STATUS_TIMEOUT = Duration.ofSeconds(3);
  private static final Duration POLL_INTERVAL = Duration.ofMillis(500);

  @Spec
  private CommandSpec spec;

  @Option(names = "--wait", paramLabel = "SECONDS",
      description = "How long to look again while replicas are behind, e.g. with writes in flight (default: ${DEFAULT-VALUE}).")
  long waitSeconds = 10;

  @Parameters(paramLabel = "URL", arity = "0..*", converter = NodeAddresses.UriConverter.class,
      description = {"The nodes to compare; a bare host:port means plain http.",
          "(default: http://127.0.0.1:8000 .. http://127.0.0.1:8005)"})
  List<URI> nodes;

  record Replica(URI url, String node, String role, long appliedIndex, long keyCount, String digest, String error) {
    boolean up() {
      return error == null;
    }
  }

  enum Verdict { REFERENCE, CONSISTENT, BEHIND, AHEAD, DIVERGED, DOWN }

  public static void main(String[] args) {
    ToolCommandLine.exit(new ConsistencyCheck(), args);
  }

  List<URI> nodes() {
    return nodes == null || nodes.isEmpty() ? NodeAddresses.LOCAL.uris() : nodes;
  }

  /** How long to look again, or a usage error. */
  Duration patience() {
    if (waitSeconds < 0) {
      throw new ParameterException(spec.commandLine(), "--wait must be at least 0 seconds, got " + waitSeconds);
    }
    return Duration.ofSeconds(waitSeconds);
  }

  @Override
  public Integer call() throws InterruptedException {
    long deadline = System.nanoTime() + patience().toNanos();
    NodeClient client = new NodeClient(STATUS_TIMEOUT);
    List<Replica> replicas;
    while (true) {
      replicas = nodes().stream().map(node -> fetch(client, node)).toList();
      if (allConsistent(replicas) || System.nanoTime() > deadline) {
        break;
      }
      Thread.sleep(POLL_INTERVAL.toMillis()); // a CLI waiting for in-flight writes to settle
    }
    return report(replicas) ? 0 : 1;
  }

  static Replica fetch(NodeClient client, URI node) {
    NodeClient.Response status = client.statusResponse(node);
    if (!status.ok()) {
      return new Replica(node, "?", status.answered() ? "?" : "-", 0, 0, "", whyNoStatus(status));
    }
    JsonNode s = status.body();
    return new Replica(node, s.path("node").asText(), s.path("role").asText(), s.path("appliedIndex").asLong(),
        s.path("keyCount").asLong(), s.path("digest").asText(), null);
  }

  /** Why a /status request gave no status: the node's own error, or why it did not answer at all. */
  static String whyNoStatus(NodeClient.Response status) {
    return status.answered()
        ? "HTTP " + status.status() + ": " + status.body().path("error").asText()
        : status.body().asText();
  }

  static Replica leaderOf(List<Replica> replicas) {
    return replicas.stream().filter(r -> r.up() && r.role().equals("leader")).findFirst().orElse(null);
  }

  static Verdict verdict(Replica r, Replica leader) {
    if (!r.up()) return Verdict.DOWN;
    if (r == leader) return Verdict.REFERENCE;
    if (r.appliedIndex() < leader.appliedIndex()) return Verdict.BEHIND;
    if (r.appliedIndex() > leader.appliedIndex()) return Verdict.AHEAD;
    return r.digest().equals(leader.digest()) ? Verdict.CONSISTENT : Verdict.DIVERGED;
  }

  static boolean allConsistent(List<Replica> replicas) {
    Replica leader = leaderOf(replicas);
    return leader != null && replicas.stream()
        .map(r -> verdict(r, leader)).allMatch(v -> v == Verdict.REFERENCE || v == Verdict.CONSISTENT);
  }

  private static boolean report(List<Replica> replicas) {
    Replica leader = leaderOf(replicas);
    if (leader == null) {
      System.out.println("No leader found among " + replicas.size() + " nodes: cannot check consistency.");
      replicas.forEach(r -> System.out.printf("  %-24s %s%n", r.url(), r.up() ? r.role() : "DOWN (" + r.error() + ")"));
      return false;
    }
    System.out.printf("%-7s %-9s %10s %8s  %-16s  %s%n", "node", "role", "applied", "keys", "digest", "verdict");
    int consistent = 0;
    for (Replica r : replicas) {
      Verdict v = verdict(r, leader);
      String detail = switch (v) {
        case REFERENCE -> "leader (reference)";
        case CONSISTENT -> "CONSISTENT";
        case BEHIND -> "BEHIND by " + (leader.appliedIndex() - r.appliedIndex()) + " entries";
        case AHEAD -> "AHEAD by " + (r.appliedIndex() - leader.appliedIndex()) + " entries (writes in flight?)";
        case DIVERGED -> "DIVERGED: same index, different state";
        case DOWN -> "DOWN (" + r.error() + ")";
      };
      if (v == Verdict.REFERENCE || v == Verdict.CONSISTENT) consistent++;
      if (r.up()) {
        System.out.printf("%-7s %-9s %10d %8d  %-16s  %s%n", r.node(), r.role(), r.appliedIndex(), r.keyCount(), r.digest(), detail);
      } else {
        System.out.printf("%-7s %-9s %10s %8s  %-16s  %s%n", r.url().getPort() < 0 ? r.url().getHost() : ":" + r.url().getPort(), "-", "-", "-", "-", detail);
      }
    }
    boolean ok = consistent == replicas.size();
    System.out.printf("%s: %d of %d replicas match the leader (index %d, digest %s)%n",
        ok ? "CONSISTENT" : "INCONSISTENT", consistent, replicas.size(), leader.appliedIndex(), leader.digest());
    return ok;
  }
}
