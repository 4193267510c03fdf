package quorumkv.storage;

import static org.junit.Assert.assertEquals;

import akka.actor.testkit.typed.javadsl.TestKitJunitResource;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.persistence.typed.PersistenceId;
import akka.persistence.typed.javadsl.CommandHandler;
import akka.persistence.typed.javadsl.EventHandler;
import akka.persistence.typed.javadsl.EventSourcedBehavior;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.IntStream;
import org.junit.ClassRule;
import org.junit.Test;
import quorumkv.CborSerializable;
import quorumkv.TestConfig;

/**
 * The journal's writes through {@link DirectJournalDao} on a real SQLite file: one event per write
 * (the replica's case), several events in one atomic write, and tagged events (the plugin's own
 * insert), each read back by the plugin's recovery in a new incarnation and found in the table.
 */
public class DirectJournalDaoTest {
  private static final Path DATA = TestConfig.newDataDir("journal-dao");

  @ClassRule
  public static final TestKitJunitResource testKit = new TestKitJunitResource(TestConfig.local(DATA, ""));

  public record Appended(String text) implements CborSerializable {}

  public record Append(List<String> texts, ActorRef<List<String>> replyTo) implements CborSerializable {}

  /** A persistent actor that persists the texts it is sent, all of one command in one atomic write. */
  static final class Log extends EventSourcedBehavior<Append, Appended, List<String>> {
    Log(String id) {
      super(PersistenceId.ofUniqueId(id));
    }

    @Override
    public List<String> emptyState() {
      return new ArrayList<>();
    }

    @Override
    public CommandHandler<Append, Appended, List<String>> commandHandler() {
      return newCommandHandlerBuilder().forAnyState().onAnyCommand((state, append) ->
          Effect().persist(append.texts().stream().map(Appended::new).toList())
              .thenReply(append.replyTo(), s -> List.copyOf(s)));
    }

    @Override
    public EventHandler<List<String>, Appended> eventHandler() {
      return newEventHandlerBuilder().forAnyState().onAnyEvent((state, e) -> {
        state.add(e.text());
        return state;
      });
    }

    @Override
    public Set<String> tagsFor(Appended event) {
      return event.text().startsWith("tag:") ? Set.of("tagged") : Set.of();
    }
  }

  private static List<String> append(ActorRef<Append> log, List<String> texts) {
    TestProbe<List<String>> probe = testKit.createTestProbe();
    log.tell(new Append(texts, probe.ref()));
    return probe.receiveMessage(Duration.ofSeconds(60));
  }

  /** What a new incarnation of {@code id} recovers: an empty append answers with the whole state. */
  private static List<String> recovered(String id) {
    Behavior<Append> log = new Log(id);
    return append(testKit.spawn(log), List.of());
  }

  private static List<Long> sequenceNumbers(String id) throws SQLException {
    try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + DATA.resolve(SqliteStore.FILE_NAME));
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT sequence_number FROM event_journal WHERE persistence_id = '"
            + id + "' ORDER BY ordering")) {
      List<Long> out = new ArrayList<>();
      while (rs.next()) {
        out.add(rs.getLong(1));
      }
      return out;
    }
  }

  private static int tagRows() throws SQLException {
    try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + DATA.resolve(SqliteStore.FILE_NAME));
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT count(*) FROM event_tag WHERE tag = 'tagged'")) {
      rs.next();
      return rs.getInt(1);
    }
  }

  @Test
  public void oneEventPerWriteIsReadBackInOrder() throws SQLException {
    ActorRef<Append> log = testKit.spawn(new Log("single"));
    List<String> expected = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      expected.add("e" + i);
      assertEquals(expected, append(log, List.of("e" + i)));
    }
    testKit.stop(log);
    assertEquals(expected, recovered("single"));
    assertEquals(IntStream.rangeClosed(1, 50).mapToObj(i -> (long) i).toList(), sequenceNumbers("single"));
  }

  @Test
  public void severalEventsInOneWriteAreAllWrittenInOrder() throws SQLException {
    ActorRef<Append> log = testKit.spawn(new Log("batch"));
    append(log, List.of("a"));
    append(log, List.of("b", "c", "d"));
    append(log, List.of("e"));
    append(log, List.of("f", "g"));
    testKit.stop(log);
    assertEquals(List.of("a", "b", "c", "d", "e", "f", "g"), recovered("batch"));
    assertEquals(List.of(1L, 2L, 3L, 4L, 5L, 6L, 7L), sequenceNumbers("batch"));
    // the single-row path still commits on its own after a transaction of several rows
    ActorRef<Append> again = testKit.spawn(new Log("batch"));
    append(again, List.of("h"));
    testKit.stop(again);
    assertEquals(List.of("a", "b", "c", "d", "e", "f", "g", "h"), recovered("batch"));
  }

  @Test
  public void taggedEventsGetTheirTagRows() throws SQLException {
    ActorRef<Append> log = testKit.spawn(new Log("tags"));
    append(log, List.of("plain"));
    append(log, List.of("tag:one", "plain2", "tag:two"));
    append(log, List.of("last"));
    testKit.stop(log);
    assertEquals(List.of("plain", "tag:one", "plain2", "tag:two", "last"), recovered("tags"));
    assertEquals(List.of(1L, 2L, 3L, 4L, 5L), sequenceNumbers("tags"));
    assertEquals(2, tagRows());
  }
}
