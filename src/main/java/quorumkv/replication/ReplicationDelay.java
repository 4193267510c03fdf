package quorumkv.replication;

import akka.actor.typed.ActorRef;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Injected network delay between the leader and a follower: each message waits a uniform random
 * time in [min, max]. Deliveries to one follower stay in send order, like a TCP link with jitter,
 * so the delay slows replication without turning every burst into resends.
 *
 * <p>Akka's scheduler ticks every 10 ms, too coarse for 0.1 ms delays, hence a dedicated timer
 * thread. The running cluster and the ActorTestKit simulations use this same class.
 */
public final class ReplicationDelay implements AutoCloseable {
  /** How long the next message to {@code node} waits, in nanoseconds. */
  @FunctionalInterface
  interface Distribution {
    long sampleNanos(String node);
  }

  private final Distribution distribution;
  private final ScheduledExecutorService timer;

  public static ReplicationDelay none() {
    return new ReplicationDelay(null);
  }

  /** The runtime setting MIN_DELAY..MAX_DELAY: uniform, independent for every message. */
  public static ReplicationDelay uniform(Duration min, Duration max, Random random) {
    if (min.isNegative() || max.compareTo(min) < 0) {
      throw new IllegalArgumentException("need 0 <= min <= max, got " + min + ".." + max);
    }
    if (max.isZero()) {
      return none();
    }
    long minNanos = min.toNanos();
    long spread = max.toNanos() - minNanos;
    return new ReplicationDelay(node -> minNanos + (long) (random.nextDouble() * spread));
  }

  /** Any distribution, e.g. one a simulation changes while it runs. */
  static ReplicationDelay of(Distribution distribution) {
    return new ReplicationDelay(distribution);
  }

  private ReplicationDelay(Distribution distribution) {
    this.distribution = distribution;
    this.timer = distribution == null ? null : Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "quorumkv-replication-delay");
      t.setDaemon(true);
      return t;
    });
  }

  /** One follower's link: remembers the last delivery time so that deliveries stay in order. */
  public final class Link {
    private final String node;
    private long lastDueNanos;

    private Link(String node) {
      this.node = node;
    }

    public <T> void send(ActorRef<T> to, T message) {
      if (timer == null) {
        to.tell(message);
        return;
      }
      long now = System.nanoTime();
      long due = Math.max(now + distribution.sampleNanos(node), lastDueNanos);
      lastDueNanos = due;
      timer.schedule(() -> to.tell(message), due - now, TimeUnit.NANOSECONDS);
    }
  }

  public Link newLink(String node) {
    return new Link(node);
  }

  @Override
  public void close() {
    if (timer != null) {
      timer.shutdownNow();
    }
  }
}
