package quorumkv.jepsen;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.Test;
import quorumkv.jepsen.LinearizabilityChecker.KeyResult;
import quorumkv.jepsen.LinearizabilityChecker.Result;
import quorumkv.jepsen.LinearizabilityChecker.Verdict;
import quorumkv.jepsen.Operation.Outcome;
import quorumkv.jepsen.Operation.Type;

/**
 * Small hand-made histories, each showing one thing the checker must accept or refuse. Times are
 * bare numbers; an operation is written as its interval [invoked, completed].
 */
public class LinearizabilityCheckerTest {
  private static final String K = "k";

  private final List<Operation> history = new ArrayList<>();

  @Test
  public void sequentialWriteThenReadIsLinearizable() {
    write(1, "a", 0, 10);
    read(2, "a", 20, 30);

    assertLinearizable();
  }

  @Test
  public void readingAValueNeverWrittenIsNot() {
    write(1, "a", 0, 10);
    Operation read = read(2, "z", 20, 30);

    KeyResult result = assertNotLinearizable();
    assertTrue(result.explanation(), result.explanation().contains(read.toString()));
    assertTrue(result.explanation(), result.explanation().contains("no write to k wrote \"z\""));
  }

  @Test
  public void staleReadAfterACompletedWriteIsNot() {
    write(1, "1", 0, 10);
    write(1, "2", 20, 30);
    Operation stale = read(2, "1", 40, 50);

    KeyResult result = assertNotLinearizable();
    assertTrue(result.explanation(), result.explanation().contains(stale.toString()));
    assertTrue(result.explanation(), result.explanation().contains("could hold only: \"2\""));
  }

  @Test
  public void readConcurrentWithAWriteMaySeeTheOldValue() {
    write(1, "old", 0, 10);
    write(1, "new", 20, 40);
    read(2, "old", 25, 35);

    assertLinearizable();
  }

  @Test
  public void readConcurrentWithAWriteMaySeeTheNewValue() {
    write(1, "old", 0, 10);
    write(1, "new", 20, 40);
    read(2, "new", 25, 35);

    assertLinearizable();
  }

  @Test
  public void readsThatSeeNewThenOldWhileBothOverlapTheWriteAreNot() {
    write(1, "old", 0, 10);
    write(1, "new", 20, 100);
    read(2, "new", 30, 40);
    Operation second = read(3, "old", 50, 60); // starts after the first read completed

    KeyResult result = assertNotLinearizable();
    assertTrue(result.explanation(), result.explanation().contains(second.toString()));
  }

  @Test
  public void readsThatSeeOldThenNewWhileBothOverlapTheWriteAre() {
    write(1, "old", 0, 10);
    write(1, "new", 20, 100);
    read(2, "old", 30, 40);
    read(3, "new", 50, 60);

    assertLinearizable();
  }

  @Test
  public void overlappingReadsMaySeeNewThenOld() {
    write(1, "old", 0, 10);
    write(1, "new", 20, 100);
    read(2, "new", 30, 55);
    read(3, "old", 50, 60); // overlaps the first read, so it may be linearized before it

    assertLinearizable();
  }

  @Test
  public void anInDoubtWriteWhoseValueIsLaterReadIsLinearizable() {
    write(1, "a", 0, 10);
    infoWrite(1, "b", 20, 30);
    read(2, "a", 40, 50);  // the in-doubt write has not taken effect yet...
    read(2, "b", 200, 210); // ...and takes effect long after its client gave up

    assertLinearizable();
  }

  @Test
  public void anInDoubtWriteThatIsNeverReadIsLinearizable() {
    write(1, "a", 0, 10);
    infoWrite(1, "b", 20, 30);
    read(2, "a", 40, 50);
    read(2, "a", 200, 210);

    assertLinearizable();
  }

  @Test
  public void anInDoubtWriteCannotTakeEffectBeforeItWasInvoked() {
    read(2, "b", 0, 10);
    infoWrite(1, "b", 20, 30);

    assertNotLinearizable();
  }

  @Test
  public void anInDoubtWriteTakesEffectOnceAtMost() {
    write(1, "a", 0, 10);
    infoWrite(1, "b", 20, 30);
    read(2, "b", 40, 50);
    write(1, "c", 60, 70);
    read(2, "b", 80, 90); // "b" cannot come back after "c" overwrote it

    assertNotLinearizable();
  }

  @Test
  public void aFailedWriteWhoseValueIsReadIsNot() {
    write(1, "a", 0, 10);
    Operation failed = failWrite(1, "b", 20, 30);
    read(2, "b", 40, 50);

    KeyResult result = assertNotLinearizable();
    assertTrue(result.explanation(), result.explanation().contains(failed.toString()));
  }

  @Test
  public void failedAndInDoubtReadsSayNothing() {
    write(1, "a", 0, 10);
    history.add(op(2, Type.READ, null, 20, 30, Outcome.FAIL));
    history.add(op(2, Type.READ, null, 40, 50, Outcome.INFO));

    assertLinearizable();
    assertEquals(1, check().key(K).operations());
  }

  @Test
  public void readingAbsentBeforeAnyWriteIsLinearizable() {
    read(2, null, 0, 10);
    write(1, "a", 20, 30);
    read(2, "a", 40, 50);

    assertLinearizable();
  }

  @Test
  public void readingAbsentAfterAWriteCompletedIsNot() {
    write(1, "a", 0, 10);
    read(2, null, 20, 30);

    KeyResult result = assertNotLinearizable();
    assertTrue(result.explanation(), result.explanation().contains("could hold only: \"a\""));
  }

  @Test
  public void readingAbsentAfterADeleteIsLinearizable() {
    write(1, "a", 0, 10);
    delete(1, 20, 30);
    read(2, null, 40, 50);

    assertLinearizable();
  }

  @Test
  public void readingTheDeletedValueAfterTheDeleteCompletedIsNot() {
    write(1, "a", 0, 10);
    delete(1, 20, 30);
    read(2, "a", 40, 50);

    assertNotLinearizable();
  }

  @Test
  public void readingAbsentWhileADeleteIsInDoubtIsLinearizable() {
    write(1, "a", 0, 10);
    history.add(op(1, Type.WRITE, null, 20, 30, Outcome.INFO));
    read(2, "a", 40, 50);
    read(2, null, 60, 70);

    assertLinearizable();
  }

  @Test
  public void operationsTouchingAtTheSameInstantAreTakenAsConcurrent() {
    write(1, "1", 0, 10);
    write(1, "2", 20, 30);
    read(2, "1", 30, 40); // invoked at the instant the second write completed

    assertLinearizable();
  }

  @Test
  public void eachKeyIsJudgedOnItsOwn() {
    write(1, "a", "1", 0, 10);
    read(2, "a", "1", 20, 30);
    write(1, "b", "1", 0, 10);
    write(1, "b", "2", 20, 30);
    read(2, "b", "1", 40, 50);

    Result result = check();
    assertEquals(Verdict.NOT_LINEARIZABLE, result.verdict());
    assertEquals(Verdict.LINEARIZABLE, result.key("a").verdict());
    assertEquals(Verdict.NOT_LINEARIZABLE, result.key("b").verdict());
    assertEquals(List.of(result.key("b")), result.problems());
  }

  @Test
  public void aHistoryTooHardForTheBudgetIsUnknown() {
    write(1, "a", 0, 10);
    for (int client = 0; client < 8; client++) {
      write(client, "w" + client, 20, 100);
    }
    read(9, "nope", 20, 100);

    KeyResult result = new LinearizabilityChecker(50).check(history).key(K);
    assertEquals(Verdict.UNKNOWN, result.verdict());
    assertTrue(result.explanation(), result.explanation().startsWith("gave up after 50 steps"));
  }

  @Test
  public void anEmptyHistoryIsLinearizable() {
    assertEquals(Verdict.LINEARIZABLE, check().verdict());
    assertTrue(check().keys().isEmpty());
  }

  // --- helpers

  // --- compare-and-set ---

  @Test
  public void aCompareAndSetOfTheValueHeldIsLinearizable() {
    write(1, "a", 0, 10);
    cas(2, "a", "b", 20, 30, Outcome.OK);
    read(3, "b", 40, 50);

    assertLinearizable();
  }

  @Test
  public void twoCompareAndSetsExpectingTheSameValueCannotBothSucceed() {
    write(1, "a", 0, 10);
    cas(2, "a", "b", 20, 40, Outcome.OK);
    cas(3, "a", "c", 25, 45, Outcome.OK);

    KeyResult result = assertNotLinearizable();
    assertTrue(result.explanation(), result.explanation().contains("cas k \"a\" -> "));
  }

  @Test
  public void aCompareAndSetThatSucceededWhereTheRegisterHeldAnotherValueIsNot() {
    write(1, "a", 0, 10);
    write(1, "x", 20, 30);
    cas(2, "a", "b", 40, 50, Outcome.OK);

    assertNotLinearizable();
  }

  @Test
  public void aCompareAndSetOnAnAbsentKeyExpectsAbsent() {
    cas(1, null, "first", 0, 10, Outcome.OK);
    read(2, "first", 20, 30);
    assertLinearizable();

    history.clear();
    write(1, "a", 0, 10);
    cas(2, null, "first", 20, 30, Outcome.OK); // the key held "a"
    assertNotLinearizable();
  }

  @Test
  public void anInDoubtCompareAndSetMayTakeEffectButOnlyWhereItsConditionHolds() {
    write(1, "a", 0, 10);
    cas(2, "a", "b", 20, 30, Outcome.INFO);
    read(3, "b", 100, 110);
    assertLinearizable();

    history.clear();
    write(1, "a", 0, 10);
    cas(2, "z", "b", 20, 30, Outcome.INFO); // "z" was never held: it cannot have taken effect
    read(3, "b", 100, 110);
    assertNotLinearizable();
  }

  @Test
  public void aCompareAndSetWhoseConditionFailedSaysNothing() {
    write(1, "a", 0, 10);
    cas(2, "zzz", "b", 20, 30, Outcome.FAIL); // 412
    read(3, "a", 40, 50);

    assertLinearizable();
  }

  @Test
  public void aSuccessfulCompareAndSetExplainsAnInDoubtWriteOfTheValueItExpected() {
    write(1, "a", 0, 10);
    infoWrite(2, "m", 20, 30);
    cas(3, "m", "n", 40, 50, Outcome.OK); // only possible if the in-doubt write took effect
    read(4, "n", 60, 70);

    assertLinearizable();
  }

  private Operation cas(int client, String expected, String value, long from, long to, Outcome outcome) {
    return add(new Operation(history.size(), client, K, Type.CAS, value, from, to, outcome, null, expected));
  }

  private void assertLinearizable() {
    Result result = check();
    assertEquals(result.toString(), Verdict.LINEARIZABLE, result.verdict());
  }

  private KeyResult assertNotLinearizable() {
    KeyResult result = check().key(K);
    assertEquals(result.toString(), Verdict.NOT_LINEARIZABLE, result.verdict());
    return result;
  }

  private Result check() {
    return new LinearizabilityChecker().check(history);
  }

  private Operation write(int client, String value, long from, long to) {
    return write(client, K, value, from, to);
  }

  private Operation write(int client, String key, String value, long from, long to) {
    return add(client, key, Type.WRITE, value, from, to, Outcome.OK);
  }

  private Operation delete(int client, long from, long to) {
    return write(client, null, from, to);
  }

  private Operation infoWrite(int client, String value, long from, long to) {
    return add(op(client, Type.WRITE, value, from, to, Outcome.INFO));
  }

  private Operation failWrite(int client, String value, long from, long to) {
    return add(op(client, Type.WRITE, value, from, to, Outcome.FAIL));
  }

  private Operation read(int client, String value, long from, long to) {
    return read(client, K, value, from, to);
  }

  private Operation read(int client, String key, String value, long from, long to) {
    return add(client, key, Type.READ, value, from, to, Outcome.OK);
  }

  private Operation op(int client, Type type, String value, long from, long to, Outcome outcome) {
    return new Operation(history.size(), client, K, type, value, from, to, outcome, null);
  }

  private Operation add(int client, String key, Type type, String value, long from, long to, Outcome outcome) {
    return add(new Operation(history.size(), client, key, type, value, from, to, outcome, null));
  }

  private Operation add(Operation op) {
    history.add(op);
    return op;
  }
}
