package quorumkv.harness;

import java.time.Duration;

/** A point in {@link System#nanoTime()} time by which something must have happened. */
public record Deadline(long nanos) {
  public static Deadline in(Duration timeout) {
    return new Deadline(System.nanoTime() + timeout.toNanos());
  }

  /** What is left, never negative. */
  public Duration remaining() {
    return Duration.ofNanos(Math.max(0, nanos - System.nanoTime()));
  }

  public boolean passed() {
    return System.nanoTime() >= nanos;
  }
}
