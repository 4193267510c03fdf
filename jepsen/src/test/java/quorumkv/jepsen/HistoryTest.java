package quorumkv.jepsen;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;
import quorumkv.jepsen.Operation.Outcome;
import quorumkv.jepsen.Operation.Type;

/** Recording a run's operations from concurrent clients, and saving and loading them. */
public class HistoryTest {
  @Rule
  public final TemporaryFolder folder = new TemporaryFolder();

  private final AtomicLong clock = new AtomicLong(1_000);
  private final History history = new History(clock::get);

  @Test
  public void recordsEachOperationWithTheIntervalBetweenInvokeAndCompletion() {
    long write = history.invokeWrite(1, "k", "v");
    clock.addAndGet(5);
    long read = history.invokeRead(2, "k");
    clock.addAndGet(10);
    history.ok(write);
    clock.addAndGet(1);
    history.ok(read, "v");

    assertEquals(List.of(
        new Operation(write, 1, "k", Type.WRITE, "v", 0, 15, Outcome.OK, null),
        new Operation(read, 2, "k", Type.READ, "v", 5, 16, Outcome.OK, null)), history.operations());
  }

  @Test
  public void anOperationNotYetCompletedIsInDoubtAndNeverCompletes() {
    long delete = history.invokeDelete(3, "k");

    Operation op = history.operations().get(0);
    assertEquals(new Operation(delete, 3, "k", Type.WRITE, null, 0, Operation.NEVER, Outcome.INFO, null), op);
  }

  @Test
  public void failuresAndDoubtsKeepTheirReason() {
    long failed = history.invokeWrite(1, "k", "a");
    long doubted = history.invokeWrite(1, "k", "b");
    long timedOut = history.invokeRead(2, "k");
    history.fail(failed, "503 not enough replicas reachable");
    history.info(doubted, "503 quorum not reached");
    history.info(timedOut);

    List<Operation> ops = history.operations();
    assertEquals(Outcome.FAIL, ops.get(0).outcome());
    assertEquals("503 not enough replicas reachable", ops.get(0).error());
    assertEquals(Outcome.INFO, ops.get(1).outcome());
    assertEquals("b", ops.get(1).value());
    assertEquals(Outcome.INFO, ops.get(2).outcome());
    assertEquals(null, ops.get(2).value());
  }

  @Test
  public void aSnapshotDoesNotChangeAsTheRunGoesOn() {
    long write = history.invokeWrite(1, "k", "v");
    List<Operation> snapshot = history.operations();
    history.ok(write);
    history.invokeRead(1, "k");

    assertEquals(1, snapshot.size());
    assertEquals(Outcome.INFO, snapshot.get(0).outcome());
    assertThrows(UnsupportedOperationException.class, () -> snapshot.add(snapshot.get(0)));
  }

  @Test
  public void anOperationCompletesOnlyOnce() {
    long write = history.invokeWrite(1, "k", "v");
    history.info(write);

    assertThrows(IllegalStateException.class, () -> history.ok(write));
  }

  @Test
  public void aReadCompletesWithTheValueReadAndAWriteWithout() {
    long read = history.invokeRead(1, "k");
    long write = history.invokeWrite(1, "k", "v");

    assertThrows(IllegalArgumentException.class, () -> history.ok(read));
    assertThrows(IllegalArgumentException.class, () -> history.ok(write, "v"));
    assertThrows(IllegalArgumentException.class, () -> history.ok(99));
  }

  @Test
  public void concurrentClientsGetDistinctHandles() throws InterruptedException {
    History real = new History();
    int clients = 8;
    int each = 500;
    CountDownLatch start = new CountDownLatch(1);
    List<Thread> threads = new ArrayList<>();
    for (int c = 0; c < clients; c++) {
      int client = c;
      threads.add(new Thread(() -> {
        awaitQuietly(start);
        for (int i = 0; i < each; i++) {
          long handle = real.invokeWrite(client, "k" + (i % 3), client + "-" + i);
          real.ok(handle);
        }
      }));
    }
    threads.forEach(Thread::start);
    start.countDown();
    for (Thread t : threads) {
      t.join();
    }

    List<Operation> ops = real.operations();
    assertEquals(clients * each, ops.size());
    Set<Long> ids = new HashSet<>();
    for (int i = 0; i < ops.size(); i++) {
      Operation op = ops.get(i);
      assertEquals(i, op.id());
      assertEquals(Outcome.OK, op.outcome());
      assertTrue(op.completedAt() >= op.invokedAt());
      ids.add(op.id());
    }
    assertEquals(clients * each, ids.size());
  }

  @Test
  public void jsonLinesRoundTripKeepsEveryField() throws Exception {
    long write = history.invokeWrite(1, "k", "quote \" newline \n unicode é ✓");
    long delete = history.invokeDelete(2, "k");
    long absent = history.invokeRead(3, "k");
    long failed = history.invokeRead(4, "other key");
    history.invokeWrite(5, "k", "pending");
    clock.addAndGet(7);
    history.ok(write);
    history.info(delete, "connection refused");
    history.ok(absent, null);
    history.fail(failed, "400 key too long");
    Path file = folder.getRoot().toPath().resolve("history.jsonl");

    history.writeJsonLines(file);
    List<Operation> loaded = History.readJsonLines(file);

    assertEquals(history.operations(), loaded);
    assertEquals(5, Files.readAllLines(file).size());
  }

  @Test
  public void jsonLinesSkipBlankLinesAndIgnoreUnknownFields() throws Exception {
    Path file = folder.getRoot().toPath().resolve("history.jsonl");
    Files.writeString(file, "\n{\"id\":7,\"client\":2,\"key\":\"k\",\"type\":\"READ\",\"value\":null,"
        + "\"invokedAt\":1,\"completedAt\":2,\"outcome\":\"OK\",\"node\":\"node3\"}\n\n");

    assertEquals(List.of(new Operation(7, 2, "k", Type.READ, null, 1, 2, Outcome.OK, null)),
        History.readJsonLines(file));
  }

  @Test
  public void aSavedHistoryIsCheckedTheSameWayAgain() throws Exception {
    long w = history.invokeWrite(1, "k", "1");
    clock.addAndGet(10);
    history.ok(w);
    long r = history.invokeRead(2, "k");
    clock.addAndGet(10);
    history.ok(r, "0"); // never written
    Path file = folder.getRoot().toPath().resolve("history.jsonl");
    history.writeJsonLines(file);

    assertEquals(LinearizabilityChecker.Verdict.NOT_LINEARIZABLE,
        new LinearizabilityChecker().check(History.readJsonLines(file)).verdict());
  }

  private static void awaitQuietly(CountDownLatch latch) {
    try {
      latch.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
