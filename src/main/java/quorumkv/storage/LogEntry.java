package quorumkv.storage;

import com.fasterxml.jackson.annotation.JsonInclude;
import quorumkv.CborSerializable;

/**
 * One write in the leader's log. {@code index} is gap-free and assigned by the leader; {@code term}
 * is the leader's term when it assigned the index.
 *
 * <p>A plain write has {@code command == null}: it puts {@code value} under {@code key}, or
 * deletes the key when {@code value == null}. An entry whose effect depends on the state (a
 * compare-and-set, a prefix delete, a transaction) carries a {@link WriteCommand} instead, with
 * {@code key} naming what it touches for logs and {@code value} null.
 *
 * <p>Journal compatibility: the {@code command} field is left out when null, so a plain entry is
 * written exactly as before it existed, and entries journaled before it read back as plain writes.
 */
public record LogEntry(long index, long term, String key, String value,
    @JsonInclude(JsonInclude.Include.NON_NULL) WriteCommand command) implements CborSerializable {

  public LogEntry(long index, long term, String key, String value) {
    this(index, term, key, value, null);
  }

  public static LogEntry of(long index, long term, WriteCommand command) {
    String label = command instanceof WriteCommand.IfVersion c ? c.key()
        : command instanceof WriteCommand.Put put ? put.key()
        : command instanceof WriteCommand.DeletePrefix p ? p.prefix() : "";
    return new LogEntry(index, term, label, null, command);
  }

  public boolean isDelete() {
    return value == null && command == null;
  }

  /** Rough size on the wire, used to cap Replicate batches. */
  public long approximateBytes() {
    return 32L + key.length() + (value == null ? 0 : value.length())
        + (command == null ? 0 : command.approximateBytes());
  }
}
