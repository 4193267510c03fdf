package quorumkv.storage;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Reader;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * Reads a backup as {@code GET /backup} writes it (NDJSON: a header line
 * {@code {"index","keys","digest"}}, then one {@code {"key","value","version"}} line per key in
 * {@link KeyOrder}), checking everything a restore relies on while it streams: every line is one
 * JSON object with exactly the known fields, keys are non-empty and strictly ascending (so none
 * is repeated), every version lies in 1..index, the number of key lines is the header's, and the
 * digest recomputed from the lines is the header's. A file that fails any check — truncated,
 * corrupt, edited, or written by a newer build — is refused with an {@link InvalidBackup} that
 * says where and why.
 *
 * <p>Nothing is held but one chunk of keys: a restore reads the file twice, once to
 * {@link #verify} it before anything is written, then to install it chunk by chunk, and a file of
 * 1,000,000 keys never sits in memory as a whole.
 *
 * <p>TTL: a key line may carry {@code "ttlMs"} (the key's remaining time to live when the backup
 * was taken). A restored key gets that much time again from the moment this node reads the file:
 * it expires {@code ttlMs} after the restore, decided by the leader as for any TTL key (so the
 * time a backup spent on disk does not count; each node starts its clock when it reads the file,
 * so {@code ttlMs} reads on different nodes may differ by the seconds between their restores).
 */
public final class BackupFile {
  private static final JsonFactory JSON = JsonFactory.builder()
      .enable(com.fasterxml.jackson.core.StreamReadFeature.STRICT_DUPLICATE_DETECTION)
      .build();
  private static final Pattern DIGEST = Pattern.compile("[0-9a-f]{16}");

  private BackupFile() {}

  /** The header line: the applied index the state was read at, its key count and digest. */
  public record Header(long index, long keys, String digest) {}

  /** One key line; {@code ttlMs} is present only when the line carries it. */
  public record Line(String key, String value, long version, OptionalLong ttlMs) {
    /** The key to install; a key with a TTL expires {@code ttlMs} after {@code nowMillis}. */
    public KeyValue keyValue(long nowMillis) {
      return new KeyValue(key, value, version, ttlMs.isPresent() ? nowMillis + Math.max(1, ttlMs.getAsLong()) : 0);
    }
  }

  /** A backup that cannot be restored: the message says which line and why. */
  public static final class InvalidBackup extends Exception {
    private static final long serialVersionUID = 1L;

    public InvalidBackup(String message) {
      super(message);
    }
  }

  /** Reads the whole file, checking it, and returns its header; nothing is kept. */
  public static Header verify(Path file) throws InvalidBackup, IOException {
    return read(file, Integer.MAX_VALUE, chunk -> {});
  }

  /**
   * Reads the file, handing its keys to {@code sink} in chunks of at most {@code chunkSize} in
   * file order, and returns the header once the whole file has passed every check. A chunk is
   * handed on before the lines after it are read: a caller that must not act on a bad file calls
   * {@link #verify} first.
   */
  public static Header read(Path file, int chunkSize, Consumer<List<KeyValue>> sink) throws InvalidBackup, IOException {
    if (chunkSize < 1) {
      throw new IllegalArgumentException("chunkSize must be at least 1, got " + chunkSize);
    }
    InputStream in;
    try {
      in = Files.newInputStream(file);
    } catch (NoSuchFileException e) {
      throw new InvalidBackup(file + ": no such file");
    }
    try (BufferedReader reader = new BufferedReader(strictUtf8(in), 1 << 16)) {
      return read(file.toString(), reader, chunkSize, sink);
    } catch (CharacterCodingException e) {
      throw new InvalidBackup(file + ": not UTF-8 text (" + e + "); a backup is UTF-8 NDJSON");
    }
  }

  private static Reader strictUtf8(InputStream in) {
    return new InputStreamReader(in, StandardCharsets.UTF_8.newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT));
  }

  static Header read(String name, BufferedReader reader, int chunkSize, Consumer<List<KeyValue>> sink)
      throws InvalidBackup, IOException {
    String text = reader.readLine();
    if (text == null) {
      throw new InvalidBackup(name + ": empty file; a backup starts with a header line {\"index\",\"keys\",\"digest\"}");
    }
    Header header = header(name, text);
    long startedMillis = System.currentTimeMillis();
    List<KeyValue> chunk = new ArrayList<>((int) Math.min(chunkSize, Math.max(1, Math.min(header.keys(), 10_000))));
    long digest = 0;
    long count = 0;
    String previous = null;
    long lineNumber = 1;
    while ((text = reader.readLine()) != null) {
      lineNumber++;
      String at = name + " line " + lineNumber;
      if (count == header.keys()) {
        throw new InvalidBackup(at + ": more lines than the " + header.keys() + " keys the header announces");
      }
      Line line = line(at, text);
      if (previous != null && KeyOrder.INSTANCE.compare(previous, line.key()) >= 0) {
        throw new InvalidBackup(at + ": key " + quoted(line.key()) + (previous.equals(line.key())
            ? " appears twice" : " comes after " + quoted(previous) + "; a backup lists keys in ascending code point order"));
      }
      if (line.version() < 1 || line.version() > header.index()) {
        throw new InvalidBackup(at + ": version " + line.version() + " of key " + quoted(line.key())
            + " is not in 1.." + header.index() + " (the header's index)");
      }
      previous = line.key();
      digest += StateDigest.pairHash(line.key(), line.value());
      count++;
      chunk.add(line.keyValue(startedMillis));
      if (chunk.size() == chunkSize) {
        sink.accept(chunk);
        chunk = new ArrayList<>(chunkSize);
      }
    }
    if (count < header.keys()) {
      throw new InvalidBackup(name + ": truncated: " + count + " key lines of the " + header.keys()
          + " the header announces");
    }
    if (!StateDigest.hex(digest).equals(header.digest())) {
      throw new InvalidBackup(name + ": the keys and values give digest " + StateDigest.hex(digest)
          + ", the header says " + header.digest() + ": the file is corrupt or was edited");
    }
    if (!chunk.isEmpty()) {
      sink.accept(chunk);
    }
    return header;
  }

  private static Header header(String name, String text) throws InvalidBackup {
    String at = name + " line 1 (the header)";
    Long index = null;
    Long keys = null;
    String digest = null;
    try (JsonParser p = JSON.createParser(text)) {
      expect(at, p.nextToken() == JsonToken.START_OBJECT, "not a JSON object");
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String field = p.currentName();
        JsonToken t = p.nextToken();
        switch (field) {
          case "index" -> index = wholeNumber(at, field, p, t);
          case "keys" -> keys = wholeNumber(at, field, p, t);
          case "digest" -> {
            expect(at, t == JsonToken.VALUE_STRING, "\"digest\" is not a string");
            digest = p.getText();
          }
          default -> throw new InvalidBackup(at + ": unknown field \"" + field
              + "\" (written by a newer build?); a header has index, keys and digest");
        }
      }
      expect(at, p.currentToken() == JsonToken.END_OBJECT && p.nextToken() == null, "not one JSON object");
    } catch (JsonProcessingException e) {
      throw new InvalidBackup(at + ": not valid JSON (" + e.getOriginalMessage() + ")");
    } catch (IOException e) {
      throw new IllegalStateException(e); // parsing a String does no I/O
    }
    expect(at, index != null && keys != null && digest != null, "needs index, keys and digest, got " + text);
    expect(at, index >= 0 && keys >= 0, "index and keys cannot be negative");
    expect(at, DIGEST.matcher(digest).matches(), "digest " + quoted(digest) + " is not 16 lowercase hex digits");
    return new Header(index, keys, digest);
  }

  private static Line line(String at, String text) throws InvalidBackup {
    String key = null;
    String value = null;
    Long version = null;
    Long ttlMs = null;
    try (JsonParser p = JSON.createParser(text)) {
      expect(at, p.nextToken() == JsonToken.START_OBJECT, text.isEmpty() ? "empty line" : "not a JSON object");
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String field = p.currentName();
        JsonToken t = p.nextToken();
        switch (field) {
          case "key" -> {
            expect(at, t == JsonToken.VALUE_STRING, "\"key\" is not a string");
            key = p.getText();
          }
          case "value" -> {
            expect(at, t == JsonToken.VALUE_STRING, "\"value\" is not a string");
            value = p.getText();
          }
          case "version" -> version = wholeNumber(at, field, p, t);
          case "ttlMs" -> {
            ttlMs = wholeNumber(at, field, p, t);
            expect(at, ttlMs >= 0, "\"ttlMs\" is negative (" + ttlMs + ")");
          }
          default -> throw new InvalidBackup(at + ": unknown field \"" + field
              + "\" (written by a newer build?); a key line has key, value, version and ttlMs");
        }
      }
      expect(at, p.currentToken() == JsonToken.END_OBJECT && p.nextToken() == null, "not one JSON object");
    } catch (JsonProcessingException e) {
      throw new InvalidBackup(at + ": not valid JSON (" + e.getOriginalMessage() + "); is the file cut off?");
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    expect(at, key != null && value != null && version != null, "a key line needs key, value and version");
    expect(at, !key.isEmpty(), "empty key");
    return new Line(key, value, version, ttlMs == null ? OptionalLong.empty() : OptionalLong.of(ttlMs));
  }

  private static long wholeNumber(String at, String field, JsonParser p, JsonToken t) throws IOException, InvalidBackup {
    expect(at, t == JsonToken.VALUE_NUMBER_INT && p.getNumberType() != JsonParser.NumberType.BIG_INTEGER,
        "\"" + field + "\" is not a whole number");
    return p.getLongValue();
  }

  private static void expect(String at, boolean condition, String problem) throws InvalidBackup {
    if (!condition) {
      throw new InvalidBackup(at + ": " + problem);
    }
  }

  private static String quoted(String key) {
    return '"' + (key.length() > 80 ? key.substring(0, 80) + "..." : key) + '"';
  }
}
