package quorumkv.storage;

import akka.persistence.jdbc.config.JournalConfig;
import akka.persistence.jdbc.journal.dao.DefaultJournalDao;
import akka.persistence.jdbc.journal.dao.JournalTables;
import akka.serialization.Serialization;
import akka.stream.Materializer;
import scala.Tuple2;
import scala.collection.immutable.Seq;
import scala.collection.immutable.Set;
import scala.concurrent.ExecutionContext;
import scala.concurrent.Future;
import scala.runtime.BoxedUnit;
import slick.jdbc.JdbcBackend;
import slick.jdbc.JdbcProfile;

/**
 * akka-persistence-jdbc's journal DAO, with each write handed straight to Slick instead of
 * through the DAO's write queue (an akka-stream that batches writes of many persistent actors
 * and runs {@code parallelism} of them at once). A node has one persistent actor, its replica,
 * which writes one event at a time, so the queue never batched anything here; it only added
 * hand-offs between threads to every journal write (offer, the stream's step, the completion
 * back into the stream, the promise). The write itself, its SQL, transaction and serialization,
 * is the plugin's own ({@link DefaultJournalDao#writeJournalRows}); Slick's one thread and one
 * connection (application.conf) still run writes one after the other, in the order they come.
 *
 * <p>Configured as {@code jdbc-journal.dao}; the plugin creates it with this constructor.
 */
public final class DirectJournalDao extends DefaultJournalDao {
  public DirectJournalDao(JdbcBackend.DatabaseDef db, JdbcProfile profile, JournalConfig journalConfig,
      Serialization serialization, ExecutionContext ec, Materializer mat) {
    super(db, profile, journalConfig, serialization, ec, mat);
  }

  @Override
  public Future<BoxedUnit> queueWriteJournalRows(
      Seq<Tuple2<JournalTables.JournalAkkaSerializationRow, Set<String>>> rows) {
    return writeJournalRows(rows);
  }
}
