package quorumkv.tools;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code ./kv check}: compares every replica with the leader's, like the lab's consistency check.
 * A replica is CONSISTENT when it has applied the same log index as the leader's replica and has
 * the same state digest, BEHIND when it has applied less, DIVERGED when it is at the same index
 * with another digest.
 * Writes may be in flight, so it looks again for a few seconds before it calls anything behind.
 *
 * <p>Usage: {@code java -cp quorumkv.jar quorumkv.tools.ConsistencyCheck [--wait SECONDS] URL...}
 * Exit status 0 when every replica is consistent, 1 otherwise.
 */
public final class ConsistencyCheck {
  private static final ObjectMapper JSON = new ObjectMapper();

  record Replica(String url, String node, String role, long appliedIndex, long keyCount, String digest, String error) {
    boolean up() {
      return error == null;
    }
  }

  enum Verdict { REFERENCE, CONSISTENT, BEHIND, AHEAD, DIVERGED, DOWN }

  public static void main(String[] args) throws InterruptedException {
    List<String> urls = new ArrayList<>();
    long waitSeconds = 10;
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--wait") && i + 1 < args.length) {
        waitSeconds = Long.parseLong(args[++i]);
      } else {
        urls.add(args[i].replaceAll("/+$", ""));
      }
    }
    if (urls.isEmpty()) {
      for (int n = 0; n < 6; n++) {
        urls.add("http://127.0.0.1:" + (8000 + n));
      }
    }
    HttpClient http = HttpClient.newBuilder()
        .version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(2)).build();

    long deadline = System.nanoTime() + Duration.ofSeconds(waitSeconds).toNanos();
    List<Replica> replicas;
    while (true) {
      replicas = urls.stream().map(u -> fetch(http, u)).toList();
      if (allConsistent(replicas) || System.nanoTime() > deadline) {
        break;
      }
      Thread.sleep(500); // a CLI waiting for in-flight writes to settle
    }
    System.exit(report(replicas) ? 0 : 1);
  }

  static Replica fetch(HttpClient http, String url) {
    try {
      HttpResponse<String> r = http.send(
          HttpRequest.newBuilder(URI.create(url + "/status")).timeout(Duration.ofSeconds(3)).build(),
          HttpResponse.BodyHandlers.ofString());
      JsonNode s = JSON.readTree(r.body());
      if (r.statusCode() != 200) {
        return new Replica(url, "?", "?", 0, 0, "", "HTTP " + r.statusCode() + ": " + s.path("error").asText());
      }
      return new Replica(url, s.path("node").asText(), s.path("role").asText(), s.path("appliedIndex").asLong(),
          s.path("keyCount").asLong(), s.path("digest").asText(), null);
    } catch (Exception e) {
      return new Replica(url, "?", "-", 0, 0, "", e.getClass().getSimpleName()
          + (e.getMessage() == null ? "" : ": " + e.getMessage()));
    }
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
        System.out.printf("%-7s %-9s %10s %8s  %-16s  %s%n", r.url().replaceAll(".*:", ":"), "-", "-", "-", "-", detail);
      }
    }
    boolean ok = consistent == replicas.size();
    System.out.printf("%s: %d of %d replicas match the leader (index %d, digest %s)%n",
        ok ? "CONSISTENT" : "INCONSISTENT", consistent, replicas.size(), leader.appliedIndex(), leader.digest());
    return ok;
  }
}
