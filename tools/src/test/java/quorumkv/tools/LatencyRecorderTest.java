package quorumkv.tools;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.Test;

public class LatencyRecorderTest {

  private static final long MILLISECOND = 1_000_000L;

  /** Records 1 ms .. 100 ms in shuffled order, so the summary cannot rely on arrival order. */
  private static LatencyRecorder oneToHundredMillis() {
    List<Long> samples = new ArrayList<>();
    for (long ms = 1; ms <= 100; ms++) {
      samples.add(ms * MILLISECOND);
    }
    Collections.shuffle(samples, new Random(42));
    LatencyRecorder recorder = new LatencyRecorder(10);
    samples.forEach(recorder::record);
    return recorder;
  }

  @Test
  public void nearestRankPercentilesOfOneToHundredMillisAreTheRankedSamples() {
    LatencyRecorder.Summary summary = oneToHundredMillis().summarize();

    assertEquals(new LatencyRecorder.Summary(100, 50.0, 95.0, 99.0, 100.0, 50.5), summary);
  }

  @Test
  public void percentileIsAlwaysARecordedSampleNeverAnInterpolation() {
    LatencyRecorder recorder = new LatencyRecorder();
    recorder.record(10 * MILLISECOND);
    recorder.record(20 * MILLISECOND);
    recorder.record(30 * MILLISECOND);
    recorder.record(40 * MILLISECOND);

    // ranks ceil(0.5 * 4) = 2 and ceil(0.95 * 4) = 4
    assertEquals(20 * MILLISECOND, recorder.percentileNanos(50));
    assertEquals(40 * MILLISECOND, recorder.percentileNanos(95));
    assertEquals(10 * MILLISECOND, recorder.percentileNanos(0));
    assertEquals(40 * MILLISECOND, recorder.percentileNanos(100));
  }

  @Test
  public void exactRanksAreNotPushedUpByFloatingPointRounding() {
    LatencyRecorder recorder = new LatencyRecorder();
    for (long sample = 1; sample <= 1000; sample++) {
      recorder.record(sample);
    }

    assertEquals(999, recorder.percentileNanos(99.9));
    assertEquals(950, recorder.percentileNanos(95));
  }

  @Test
  public void singleSampleIsEveryPercentile() {
    LatencyRecorder recorder = new LatencyRecorder();
    recorder.record(7 * MILLISECOND);

    assertEquals(new LatencyRecorder.Summary(1, 7.0, 7.0, 7.0, 7.0, 7.0), recorder.summarize());
  }

  @Test
  public void summaryIsInMillisecondsRoundedToMicroseconds() {
    LatencyRecorder recorder = new LatencyRecorder();
    recorder.record(1_234_567);

    assertEquals(1.235, recorder.summarize().p50Ms(), 0.0);
  }

  @Test
  public void emptyRecorderSummarizesToZeros() {
    LatencyRecorder recorder = new LatencyRecorder();

    assertEquals(0, recorder.count());
    assertEquals(LatencyRecorder.Summary.EMPTY, recorder.summarize());
    assertEquals(new LatencyRecorder.Summary(0, 0, 0, 0, 0, 0), recorder.summarize());
  }

  @Test
  public void emptyRecorderHasNoPercentile() {
    assertThrows(IllegalStateException.class, () -> new LatencyRecorder().percentileNanos(50));
  }

  @Test
  public void recordingBeyondTheExpectedCountKeepsEverySample() {
    LatencyRecorder recorder = new LatencyRecorder(1);
    for (int i = 0; i < 5; i++) {
      recorder.record(MILLISECOND);
    }

    assertEquals(5, recorder.count());
  }

  @Test
  public void negativeLatencyIsRejected() {
    assertThrows(IllegalArgumentException.class, () -> new LatencyRecorder().record(-1));
  }
}
