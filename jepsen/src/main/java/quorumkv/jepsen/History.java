package quorumkv.jepsen;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.ObjectWriter;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.function.LongSupplier;

/**
 * The history of a run: every operation that concurrent clients invoked, with its outcome.
 *
 * <p>A client calls {@link #invoke} just before it sends a request and {@link #ok}, {@link #fail}
 * or {@link #info} once it knows the outcome. Each call reads the clock itself, so the recorded
 * interval always contains the request's real one, which is what a linearizability check needs.
 * All methods are thread-safe; each holds a lock only to read the clock and update a list.
 *
 * <p>Histories are saved and loaded as JSON Lines ({@code history.jsonl}): one operation per line.
 */
public final class History {
  private static final ObjectMapper JSON = new ObjectMapper()
      .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
  private static final ObjectWriter LINE_WRITER = JSON.writerFor(Operation.class);
  private static final ObjectReader LINE_READER = JSON.readerFor(Operation.class);

  private final LongSupplier nanoClock;
  private final long origin;
  private final List<Operation> operations = new ArrayList<>();
  private final BitSet completed = new BitSet();

  /** A history timed by {@link System#nanoTime()}, counted from now. */
  public History() {
    this(System::nanoTime);
  }

  /** A history timed by {@code nanoClock} (monotonic nanoseconds), counted from its current value. */
  public History(LongSupplier nanoClock) {
    this.nanoClock = nanoClock;
    this.origin = nanoClock.getAsLong();
  }

  /** Nanoseconds since this history started, on the clock its operations are timed by. */
  public long now() {
    return nanoClock.getAsLong() - origin;
  }

  /**
   * Records that {@code client} is about to send an operation; {@code value} is the value to
   * write ({@code null}: delete), or {@code null} for a read. Returns the operation's handle.
   * Until completed, the operation appears in snapshots as {@code INFO}, completed {@code NEVER}.
   */
  public synchronized long invoke(int client, Operation.Type type, String key, String value) {
    if (type == Operation.Type.READ && value != null) {
      throw new IllegalArgumentException("a read has no value to send");
    }
    long id = operations.size();
    operations.add(new Operation(id, client, key, type, value, now(), Operation.NEVER, Operation.Outcome.INFO, null));
    return id;
  }

  public long invokeRead(int client, String key) {
    return invoke(client, Operation.Type.READ, key, null);
  }

  public long invokeWrite(int client, String key, String value) {
    return invoke(client, Operation.Type.WRITE, key, value);
  }

  public long invokeDelete(int client, String key) {
    return invoke(client, Operation.Type.WRITE, key, null);
  }

  /** A compare-and-set: write {@code value} if the key holds {@code expected} ({@code null}: absent). */
  public synchronized long invokeCas(int client, String key, String expected, String value) {
    long id = operations.size();
    operations.add(new Operation(id, client, key, Operation.Type.CAS, value, now(), Operation.NEVER,
        Operation.Outcome.INFO, null, expected));
    return id;
  }

  /** A write (or compare-and-set) took effect. */
  public void ok(long handle) {
    complete(handle, Operation.Outcome.OK, null, null, Operation.Type.WRITE);
  }

  /** A read returned {@code valueRead} ({@code null}: the key was absent). */
  public void ok(long handle, String valueRead) {
    complete(handle, Operation.Outcome.OK, valueRead, null, Operation.Type.READ);
  }

  /** The operation certainly did not take effect. */
  public void fail(long handle) {
    fail(handle, null);
  }

  public void fail(long handle, String error) {
    complete(handle, Operation.Outcome.FAIL, null, error, null);
  }

  /** The outcome is unknown: the operation may take effect later, or never. */
  public void info(long handle) {
    info(handle, null);
  }

  public void info(long handle, String error) {
    complete(handle, Operation.Outcome.INFO, null, error, null);
  }

  /** An immutable snapshot of every operation invoked so far, in invocation order. */
  public synchronized List<Operation> operations() {
    return List.copyOf(operations);
  }

  /** Saves a snapshot of this history as JSON Lines. */
  public void writeJsonLines(Path file) throws IOException {
    writeJsonLines(operations(), file);
  }

  public static void writeJsonLines(List<Operation> operations, Path file) throws IOException {
    try (BufferedWriter out = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
      for (Operation op : operations) {
        out.write(LINE_WRITER.writeValueAsString(op));
        out.newLine();
      }
    }
  }

  /** Loads operations saved by {@link #writeJsonLines}; blank lines are skipped. */
  public static List<Operation> readJsonLines(Path file) throws IOException {
    List<Operation> operations = new ArrayList<>();
    try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      String line;
      while ((line = in.readLine()) != null) {
        if (!line.isBlank()) {
          operations.add(LINE_READER.readValue(line));
        }
      }
    }
    return List.copyOf(operations);
  }

  private synchronized void complete(long handle, Operation.Outcome outcome, String valueRead, String error,
      Operation.Type expected) {
    if (handle < 0 || handle >= operations.size()) {
      throw new IllegalArgumentException("no operation " + handle);
    }
    int index = (int) handle;
    Operation op = operations.get(index);
    if (completed.get(index)) {
      throw new IllegalStateException("operation " + handle + " already completed: " + op);
    }
    if (expected != null && op.type() != expected && !(expected == Operation.Type.WRITE && op.type() == Operation.Type.CAS)) {
      throw new IllegalArgumentException(expected == Operation.Type.READ
          ? "ok(handle, valueRead) is for reads; complete write " + handle + " with ok(handle)"
          : "ok(handle) is for writes; complete read " + handle + " with ok(handle, valueRead)");
    }
    completed.set(index);
    operations.set(index, op.completed(now(), outcome, valueRead, error));
  }
}
