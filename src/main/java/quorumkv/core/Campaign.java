package quorumkv.core;

import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * A candidate's promises for one term and what it must adopt once it has enough. N − W promises
 * (its own replica's among them) include at least one of the W + 1 replicas that hold any
 * acknowledged write ((N − W) + (W + 1) > N), so adopting the most complete promised log (highest
 * last term, then highest index) keeps every acknowledged write.
 */
public final class Campaign {
  /** A replica's promise for the term, with where its log stands. */
  public record Promise(String node, long lastIndex, long lastTerm, long appliedIndex) {}

  private final long term;
  private final String candidate;
  private final int promisesNeeded;
  private final Map<String, Promise> promises = new LinkedHashMap<>();

  public Campaign(long term, String candidate, int promisesNeeded) {
    this.term = term;
    this.candidate = candidate;
    this.promisesNeeded = promisesNeeded;
  }

  public long term() {
    return term;
  }

  /** Records a promise; true once the campaign is won (enough promises, the candidate's own included). */
  public boolean add(Promise promise) {
    promises.put(promise.node(), promise);
    return won();
  }

  public boolean won() {
    return promises.size() >= promisesNeeded && promises.containsKey(candidate);
  }

  public boolean promised(String node) {
    return promises.containsKey(node);
  }

  public Promise promiseOf(String node) {
    return promises.get(node);
  }

  public Set<String> promisers() {
    return promises.keySet();
  }

  public int promisesNeeded() {
    return promisesNeeded;
  }

  /** The log to adopt: the highest last term, then the highest index; the candidate's own on a tie. */
  public Promise mostComplete() {
    return promises.values().stream()
        .max(Comparator.comparingLong(Promise::lastTerm)
            .thenComparingLong(Promise::lastIndex)
            .thenComparing(p -> p.node().equals(candidate)))
        .orElseThrow(() -> new IllegalStateException("no promise yet"));
  }

  /**
   * Everything up to the highest applied index among the promisers is committed (a replica applies
   * only committed entries), and so the same in every log. Entries beyond it keep their terms and
   * commit in this term only with an entry of its own ({@link Replication}).
   */
  public long committedUpTo() {
    return promises.values().stream().mapToLong(Promise::appliedIndex).max().orElse(0);
  }
}
