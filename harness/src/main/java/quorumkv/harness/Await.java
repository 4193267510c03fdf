package quorumkv.harness;

import java.time.Duration;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * Condition waits: poll an explicit condition until it holds or a deadline passes. The pause
 * between polls is only the polling interval, never the condition itself.
 */
public final class Await {
  public static final Duration POLL_INTERVAL = Duration.ofMillis(200);

  private Await() {}

  /** Polls {@code condition} every {@code interval} until it holds (true) or {@code timeout} passes (false). */
  public static boolean within(Duration timeout, Duration interval, BooleanSupplier condition) {
    Deadline deadline = Deadline.in(timeout);
    while (true) {
      if (condition.getAsBoolean()) {
        return true;
      }
      if (deadline.passed()) {
        return false;
      }
      pause(min(interval, deadline.remaining()));
    }
  }

  public static boolean within(Duration timeout, BooleanSupplier condition) {
    return within(timeout, POLL_INTERVAL, condition);
  }

  /**
   * Polls {@code condition} until it holds; when {@code timeout} passes first, fails with
   * {@code what} and {@code lastSeen} (the last state the condition saw).
   */
  public static void until(String what, Duration timeout, BooleanSupplier condition, Supplier<String> lastSeen) {
    if (!within(timeout, condition)) {
      throw new IllegalStateException("timed out after " + timeout.toSeconds() + " s waiting until " + what
          + "; last seen: " + lastSeen.get());
    }
  }

  private static void pause(Duration d) {
    try {
      Thread.sleep(Math.max(1, d.toMillis()));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting", e);
    }
  }

  private static Duration min(Duration a, Duration b) {
    return a.compareTo(b) <= 0 ? a : b;
  }
}
