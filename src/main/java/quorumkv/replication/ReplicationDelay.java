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
  private final long minNanos;
  private final long maxNanos;
  private final Random random;
  private final ScheduledExecutorService timer;

  public static ReplicationDelay none() {
    return new ReplicationDelay(Duration.ZERO, Duration.ZERO, new Random());
  }

  public static ReplicationDelay uniform(Duration min, Duration max, Random random) {
    return new ReplicationDelay(min, max, random);
  }

  private ReplicationDelay(Duration min, Duration max, Random random) {
    if (min.isNegative() || max.compareTo(min) < 0) {
      throw new IllegalArgumentException("need 0 <= min <= max, got " + min + ".." + max);
    }
    this.minNanos = min.toNanos();
    this.maxNanos = max.toNanos();
    this.random = random;
    this.timer = maxNanos == 0 ? null : Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "quorumkv-replication-delay");
      t.setDaemon(true);
      return t;
    });
  }

  public boolean enabled() {
    return timer != null;
  }

  /** One follower's link: remembers the last delivery time so that deliveries stay in order. */
  public final class Link {
    private long lastDueNanos;

    public <T> void send(ActorRef<T> to, T message) {
      if (timer == null) {
        to.tell(message);
        return;
      }
      long now = System.nanoTime();
      long delay = minNanos + (maxNanos == minNanos ? 0 : (long) (random.nextDouble() * (maxNanos - minNanos)));
      long due = Math.max(now + delay, lastDueNanos);
      lastDueNanos = due;
      timer.schedule(() -> to.tell(message), due - now, TimeUnit.NANOSECONDS);
    }
  }

  public Link newLink() {
    return new Link();
  }

  @Override
  public void close() {
    if (timer != null) {
      timer.shutdownNow();
    }
  }
}
