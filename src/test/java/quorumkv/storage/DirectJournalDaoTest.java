package quorumkv.storage;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

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
import java.util.stream.LongStream;
import org.junit.ClassRule;
import org.junit.Test;
import quorumkv.CborSerializable;
import quorumkv.TestConfig;
import quorumkv.metrics.Metrics;

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

  /** Each list one atomic write, to a new incarnation of {@code id}, stopped afterwards. */
  private static void write(String id, List<List<String>> writes) {
    ActorRef<Append> log = testKit.spawn(new Log(id));
    writes.forEach(texts -> append(log, texts));
    testKit.stop(log);
  }

  /** The journal's rows of {@code id} are sequence numbers 1..n, in insertion order. */
  private static void assertRows(String id, int n) throws SQLException {
    assertEquals(LongStream.rangeClosed(1, n).boxed().toList(), sequenceNumbers(id));
  }

  /** The count of {@code quorumkv_journal_insert_seconds} in this system's metrics. */
  private static long journalInserts() {
    return Metrics.get(testKit.system()).scrape().lines()
        .filter(l -> l.startsWith("quorumkv_journal_insert_seconds_count"))
        .mapToLong(l -> (long) Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1)))
        .sum();
  }

  @Test
  public void oneEventPerWriteIsReadBackInOrder() throws SQLException {
    List<String> texts = IntStream.range(0, 50).mapToObj(i -> "e" + i).toList();
    ActorRef<Append> log = testKit.spawn(new Log("single"));
    long insertsBefore = journalInserts();
    for (int i = 0; i < texts.size(); i++) {
      assertEquals(texts.subList(0, i + 1), append(log, List.of(texts.get(i))));
    }
    // each write was timed as SQLite's part of it (other tests of this class may write meanwhile)
    assertTrue("journal inserts timed: " + (journalInserts() - insertsBefore), journalInserts() - insertsBefore >= 50);
    testKit.stop(log);
    assertEquals(texts, recovered("single"));
    assertRows("single", 50);
  }

  @Test
  public void severalEventsInOneWriteAreAllWrittenInOrder() throws SQLException {
    write("batch", List.of(List.of("a"), List.of("b", "c", "d"), List.of("e"), List.of("f", "g")));
    assertEquals(List.of("a", "b", "c", "d", "e", "f", "g"), recovered("batch"));
    assertRows("batch", 7);
    // the single-row path still commits on its own after a transaction of several rows
    write("batch", List.of(List.of("h")));
    assertEquals(List.of("a", "b", "c", "d", "e", "f", "g", "h"), recovered("batch"));
    assertRows("batch", 8);
  }

  @Test
  public void taggedEventsGetTheirTagRows() throws SQLException {
    write("tags", List.of(List.of("plain"), List.of("tag:one", "plain2", "tag:two"), List.of("last")));
    assertEquals(List.of("plain", "tag:one", "plain2", "tag:two", "last"), recovered("tags"));
    assertRows("tags", 5);
    assertEquals(2, tagRows());
  }
}
