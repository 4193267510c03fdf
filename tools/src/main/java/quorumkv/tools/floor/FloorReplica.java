package quorumkv.tools.floor;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.persistence.typed.PersistenceId;
import akka.persistence.typed.javadsl.CommandHandler;
import akka.persistence.typed.javadsl.EventHandler;
import akka.persistence.typed.javadsl.EventSourcedBehavior;
import java.util.List;
import quorumkv.CborSerializable;

/**
 * The least a replica of the design card can be: an Akka Persistence event-sourced actor that
 * writes each batch it is sent as one journal event (akka-persistence-jdbc on SQLite, as the node
 * configures it) and then acknowledges everything it holds. No terms, no log checks, no state
 * applied, no snapshots, no digest, no watch history: what is left is the stack's own cost.
 */
public final class FloorReplica extends EventSourcedBehavior<FloorReplica.Append, FloorReplica.Appended, FloorReplica.Held> {

  /** Entries {@code firstIndex..} to write; answered with {@link FloorLeader.Acked} once durable. */
  public record Append(long firstIndex, List<Entry> entries, ActorRef<FloorLeader.Acked> replyTo)
      implements CborSerializable {}

  /** One write, shaped like the node's log entries: a key and a value. */
  public record Entry(String key, String value) implements CborSerializable {}

  /** The journal event: one per {@link Append}. */
  public record Appended(long firstIndex, List<Entry> entries) implements CborSerializable {}

  /** The last index this replica holds durably. */
  public record Held(long lastIndex) {}

  private final int replica;

  public static Behavior<Append> create(int replica) {
    return new FloorReplica(replica);
  }

  private FloorReplica(int replica) {
    super(PersistenceId.ofUniqueId("floor-replica-" + replica));
    this.replica = replica;
  }

  @Override
  public Held emptyState() {
    return new Held(0);
  }

  @Override
  public CommandHandler<Append, Appended, Held> commandHandler() {
    return newCommandHandlerBuilder().forAnyState()
        .onCommand(Append.class, (held, append) -> Effect()
            .persist(new Appended(append.firstIndex(), append.entries()))
            .thenReply(append.replyTo(), after -> new FloorLeader.Acked(replica, after.lastIndex())))
        .build();
  }

  @Override
  public EventHandler<Held, Appended> eventHandler() {
    return newEventHandlerBuilder().forAnyState()
        .onEvent(Appended.class, (held, e) -> new Held(Math.max(held.lastIndex(), e.firstIndex() + e.entries().size() - 1)))
        .build();
  }
}
