package quorumkv.storage;

import akka.actor.typed.javadsl.Adapter;
import akka.persistence.jdbc.config.EventJournalTableColumnNames;
import akka.persistence.jdbc.config.EventJournalTableConfiguration;
import akka.persistence.jdbc.config.JournalConfig;
import akka.persistence.jdbc.journal.dao.DefaultJournalDao;
import akka.persistence.jdbc.journal.dao.JournalTables.JournalAkkaSerializationRow;
import akka.serialization.Serialization;
import akka.stream.Materializer;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Types;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import quorumkv.metrics.Metrics;
import scala.Option;
import scala.Tuple2;
import scala.collection.immutable.Seq;
import scala.collection.immutable.Set;
import scala.concurrent.ExecutionContext;
import scala.concurrent.Future;
import scala.jdk.javaapi.CollectionConverters;
import scala.runtime.BoxedUnit;
import slick.dbio.DBIOAction;
import slick.dbio.NoStream;
import slick.jdbc.JdbcBackend;
import slick.jdbc.JdbcProfile;
import slick.jdbc.SimpleJdbcAction;

/**
 * akka-persistence-jdbc's journal DAO, with two changes to how a write reaches SQLite; what is
 * written (the plugin's rows: its serialization, its table and columns, read back by its own
 * queries on recovery) is unchanged.
 *
 * <ul>
 *   <li>Each write goes straight to Slick instead of through the DAO's write queue (an
 *       akka-stream that batches writes of many persistent actors and runs {@code parallelism} of
 *       them at once). A node has one persistent actor, its replica, which writes one event at a
 *       time, so the queue never batched anything here; it only added hand-offs between threads to
 *       every journal write (offer, the stream's step, the completion back into the stream, the
 *       promise).
 *   <li>The insert is one JDBC statement, prepared once per connection, run as a plain Slick
 *       action on Slick's thread and connection (so still one writer, in order, sharing the
 *       connection with the snapshot store and the recovery queries). The plugin's insert had
 *       SQLite compile the statement again for every write (2.7 % of a follower's CPU under write
 *       load), asked for the generated key it does not need without tags, and wrapped the single
 *       row in an explicit transaction. A write of one row now commits on its own (SQLite's
 *       implicit transaction, fsynced like any commit); several rows share one transaction.
 *       Rows with tags, which quorumkv does not use, still take the plugin's path.
 * </ul>
 *
 * <p>Configured as {@code jdbc-journal.dao}; the plugin creates it with this constructor.
 */
public final class DirectJournalDao extends DefaultJournalDao {
  private final String insertSql;
  private final Metrics metrics;
  /** The physical connection {@link #insert} was prepared on, and the statement; Slick's thread only. */
  private Connection preparedOn;
  private PreparedStatement insert;

  public DirectJournalDao(JdbcBackend.DatabaseDef db, JdbcProfile profile, JournalConfig journalConfig,
      Serialization serialization, ExecutionContext ec, Materializer mat) {
    super(db, profile, journalConfig, serialization, ec, mat);
    this.insertSql = insertSql(journalConfig.eventJournalTableConfiguration());
    this.metrics = Metrics.get(Adapter.toTyped(serialization.system()));
  }

  private static String insertSql(EventJournalTableConfiguration table) {
    EventJournalTableColumnNames c = table.columnNames();
    String name = table.schemaName().isDefined() ? table.schemaName().get() + "." + table.tableName() : table.tableName();
    return "INSERT INTO " + name + " (" + String.join(", ", c.deleted(), c.persistenceId(), c.sequenceNumber(),
        c.writer(), c.writeTimestamp(), c.adapterManifest(), c.eventPayload(), c.eventSerId(), c.eventSerManifest(),
        c.metaPayload(), c.metaSerId(), c.metaSerManifest()) + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
  }

  @Override
  public Future<BoxedUnit> queueWriteJournalRows(Seq<Tuple2<JournalAkkaSerializationRow, Set<String>>> rows) {
    List<JournalAkkaSerializationRow> plain = new ArrayList<>(rows.size());
    for (Tuple2<JournalAkkaSerializationRow, Set<String>> row : CollectionConverters.asJava(rows)) {
      if (!row._2().isEmpty()) {
        return writeJournalRows(rows); // tags: the plugin's own insert, which also writes the tag rows
      }
      plain.add(row._1());
    }
    plain.sort(Comparator.comparingLong(JournalAkkaSerializationRow::sequenceNumber));
    SimpleJdbcAction<BoxedUnit> write = SimpleJdbcAction.apply(context -> {
      try {
        long started = System.nanoTime();
        insert(context.connection(), plain);
        metrics.journalInserted(System.nanoTime() - started);
      } catch (SQLException e) {
        throw new IllegalStateException("journal write failed: " + e.getMessage(), e);
      }
      return BoxedUnit.UNIT;
    });
    return run(write);
  }

  /**
   * Slick's {@code run} takes actions of any effect ({@code Effect} is contravariant in Scala, where
   * {@code Nothing} stands for "any"), which Java's generics cannot express: a raw call.
   */
  @SuppressWarnings({"unchecked", "rawtypes"})
  private Future<BoxedUnit> run(DBIOAction<BoxedUnit, NoStream, ?> action) {
    return db().run((DBIOAction) action);
  }

  private synchronized void insert(Connection pooled, List<JournalAkkaSerializationRow> rows) throws SQLException {
    Connection connection = pooled.unwrap(Connection.class);
    PreparedStatement statement = statementFor(connection);
    boolean autoCommit = connection.getAutoCommit();
    if (rows.size() == 1 && autoCommit) {
      bind(statement, rows.get(0));
      statement.executeUpdate(); // commits (SQLite's implicit transaction)
      return;
    }
    if (autoCommit) {
      connection.setAutoCommit(false);
    }
    try {
      for (JournalAkkaSerializationRow row : rows) {
        bind(statement, row);
        statement.executeUpdate();
      }
      connection.commit();
    } catch (SQLException | RuntimeException e) {
      connection.rollback();
      throw e;
    } finally {
      if (autoCommit) {
        connection.setAutoCommit(true);
      }
    }
  }

  /** The insert prepared on {@code connection}; prepared again when the pool has replaced the connection. */
  private PreparedStatement statementFor(Connection connection) throws SQLException {
    if (connection != preparedOn || insert == null || insert.isClosed()) {
      if (insert != null) {
        try {
          insert.close();
        } catch (SQLException e) {
          // its connection is gone, and the statement with it
        }
      }
      insert = null;
      insert = connection.prepareStatement(insertSql);
      preparedOn = connection;
    }
    return insert;
  }

  private static void bind(PreparedStatement s, JournalAkkaSerializationRow row) throws SQLException {
    s.setBoolean(1, row.deleted());
    s.setString(2, row.persistenceId());
    s.setLong(3, row.sequenceNumber());
    s.setString(4, row.writer());
    s.setLong(5, row.writeTimestamp());
    s.setString(6, row.adapterManifest());
    s.setBytes(7, row.eventPayload());
    s.setInt(8, row.eventSerId());
    s.setString(9, row.eventSerManifest());
    setOrNull(s, 10, row.metaPayload(), Types.BLOB);
    setOrNull(s, 11, row.metaSerId(), Types.INTEGER);
    setOrNull(s, 12, row.metaSerManifest(), Types.VARCHAR);
  }

  private static void setOrNull(PreparedStatement s, int index, Option<?> value, int sqlType) throws SQLException {
    if (value.isDefined()) {
      s.setObject(index, value.get());
    } else {
      s.setNull(index, sqlType);
    }
  }
}
