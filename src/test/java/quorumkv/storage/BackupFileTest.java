package quorumkv.storage;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/** What a restore accepts: exactly what GET /backup writes, and nothing cut off, edited or reordered. */
public class BackupFileTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Rule public final TemporaryFolder tmp = new TemporaryFolder();

  /** A backup as GET /backup writes it: header, then the pairs in code point order. */
  public static String backup(long index, List<KeyValue> pairs) {
    List<KeyValue> sorted = new ArrayList<>(pairs);
    sorted.sort((a, b) -> KeyOrder.INSTANCE.compare(a.key(), b.key()));
    long digest = 0;
    for (KeyValue kv : sorted) {
      digest += StateDigest.pairHash(kv.key(), kv.value());
    }
    StringBuilder out = new StringBuilder(json(header(index, sorted.size(), StateDigest.hex(digest)))).append('\n');
    for (KeyValue kv : sorted) {
      out.append(line(kv)).append('\n');
    }
    return out.toString();
  }

  private static Map<String, Object> header(long index, long keys, String digest) {
    Map<String, Object> h = new LinkedHashMap<>();
    h.put("index", index);
    h.put("keys", keys);
    h.put("digest", digest);
    return h;
  }

  private static String line(KeyValue kv) {
    Map<String, Object> l = new LinkedHashMap<>();
    l.put("key", kv.key());
    l.put("value", kv.value());
    l.put("version", kv.version());
    return json(l);
  }

  private static String json(Object o) {
    try {
      return JSON.writeValueAsString(o);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static final List<KeyValue> PAIRS = List.of(
      new KeyValue("a", "1", 3),
      new KeyValue("b/\uD83D\uDE00", "emoji key", 7), // after "b/\uFFFF" in code point order
      new KeyValue("b/\uFFFF", "bmp", 5),
      new KeyValue("c \"quoted\"\n", "multi\nline", 9));

  private Path file(String text) throws IOException {
    Path f = tmp.newFile().toPath();
    Files.writeString(f, text, StandardCharsets.UTF_8);
    return f;
  }

  private String rejection(String text) throws IOException {
    Path f = file(text);
    return assertThrows(BackupFile.InvalidBackup.class, () -> BackupFile.verify(f)).getMessage();
  }

  private static String replaceLine(String text, int lineIndex, String replacement) {
    List<String> lines = new ArrayList<>(text.lines().toList());
    lines.set(lineIndex, replacement);
    return String.join("\n", lines) + "\n";
  }

  @Test
  public void aSoundBackupIsReadInChunksInFileOrderWithItsHeader() throws Exception {
    Path f = file(backup(10, PAIRS));
    List<List<KeyValue>> chunks = new ArrayList<>();
    BackupFile.Header h = BackupFile.read(f, 3, chunks::add);
    assertEquals(10, h.index());
    assertEquals(4, h.keys());
    assertEquals(List.of(3, 1), chunks.stream().map(List::size).toList());
    assertEquals(new KeyValue("b/\uFFFF", "bmp", 5), chunks.get(0).get(1));
    assertEquals(new KeyValue("b/\uD83D\uDE00", "emoji key", 7), chunks.get(0).get(2));
    assertEquals(new KeyValue("c \"quoted\"\n", "multi\nline", 9), chunks.get(1).get(0));
    assertEquals(h, BackupFile.verify(f));
  }

  @Test
  public void anEmptyStateAndAFileWithoutItsLastNewlineAreSound() throws Exception {
    assertEquals(new BackupFile.Header(42, 0, "0000000000000000"), BackupFile.verify(file(backup(42, List.of()))));
    String text = backup(10, PAIRS);
    assertEquals(4, BackupFile.verify(file(text.substring(0, text.length() - 1))).keys());
  }

  @Test
  public void aBadHeaderIsRefused() throws Exception {
    String good = backup(10, PAIRS);
    assertTrue(rejection("").contains("empty file"));
    assertTrue(rejection(replaceLine(good, 0, "not json")).contains("line 1 (the header): not valid JSON"));
    assertTrue(rejection(replaceLine(good, 0, "{\"index\":10,\"keys\":4}")).contains("needs index, keys and digest"));
    assertTrue(rejection(replaceLine(good, 0, "{\"index\":10,\"keys\":4,\"digest\":\"xyz\"}"))
        .contains("is not 16 lowercase hex digits"));
    assertTrue(rejection(replaceLine(good, 0, "{\"index\":-1,\"keys\":4,\"digest\":\"0000000000000000\"}"))
        .contains("cannot be negative"));
    assertTrue(rejection(replaceLine(good, 0, "{\"index\":\"10\",\"keys\":4,\"digest\":\"0000000000000000\"}"))
        .contains("\"index\" is not a whole number"));
    assertTrue(rejection(replaceLine(good, 0, "{\"index\":10,\"keys\":4,\"digest\":\"0000000000000000\",\"term\":3}"))
        .contains("unknown field \"term\""));
    assertTrue(rejection(replaceLine(good, 0, "{\"index\":10,\"index\":11,\"keys\":4,\"digest\":\"0000000000000000\"}"))
        .contains("not valid JSON"));
  }

  @Test
  public void aWrongDigestIsRefused() throws Exception {
    String good = backup(10, PAIRS);
    String edited = good.replace("\"value\":\"bmp\"", "\"value\":\"BMP\"");
    assertTrue(rejection(edited), rejection(edited).contains("the header says"));
  }

  @Test
  public void aTruncatedFileIsRefused() throws Exception {
    String good = backup(10, PAIRS);
    List<String> lines = good.lines().toList();
    String withoutLastLine = String.join("\n", lines.subList(0, lines.size() - 1)) + "\n";
    assertTrue(rejection(withoutLastLine).contains("truncated: 3 key lines of the 4"));
    String cutMidLine = good.substring(0, good.length() - 10);
    assertTrue(rejection(cutMidLine), rejection(cutMidLine).contains("line 5: not valid JSON"));
    assertTrue(rejection(lines.get(0)).contains("truncated: 0 key lines"));
  }

  @Test
  public void duplicateOrOutOfOrderKeysAndExtraLinesAreRefused() throws Exception {
    String good = backup(10, PAIRS);
    List<String> lines = good.lines().toList();
    String swapped = replaceLine(replaceLine(good, 2, lines.get(3)), 3, lines.get(2));
    assertTrue(rejection(swapped), rejection(swapped).contains("comes after"));
    String duplicated = replaceLine(good, 2, lines.get(1));
    assertTrue(rejection(duplicated).contains("appears twice"));
    assertTrue(rejection(good + lines.get(4) + "\n").contains("more lines than the 4 keys"));
    assertTrue(rejection(good.replace(lines.get(2) + "\n", lines.get(2) + "\n\n")).contains("line 4: empty line"));
  }

  @Test
  public void aBadKeyLineIsRefused() throws Exception {
    String good = backup(10, PAIRS);
    assertTrue(rejection(replaceLine(good, 1, "{\"key\":\"a\",\"value\":\"1\"}")).contains("needs key, value and version"));
    assertTrue(rejection(replaceLine(good, 1, "{\"key\":\"a\",\"value\":1,\"version\":3}")).contains("\"value\" is not a string"));
    assertTrue(rejection(replaceLine(good, 1, "{\"key\":\"a\",\"value\":\"1\",\"version\":11}"))
        .contains("version 11 of key \"a\" is not in 1..10"));
    assertTrue(rejection(replaceLine(good, 1, "{\"key\":\"\",\"value\":\"1\",\"version\":3}")).contains("empty key"));
    assertTrue(rejection(replaceLine(good, 1, "{\"key\":\"a\",\"value\":\"1\",\"version\":3,\"lease\":5}"))
        .contains("line 2: unknown field \"lease\""));
    assertTrue(rejection(replaceLine(good, 1, "{\"key\":\"a\",\"value\":\"1\",\"version\":3} {}")).contains("not one JSON object"));
    assertTrue(rejection(replaceLine(good, 1, "[]")).contains("not a JSON object"));
  }

  @Test
  public void aKeyWithATimeToLiveGetsItsRemainingTimeFromTheRestore() throws Exception {
    String good = backup(10, PAIRS);
    Path f = file(replaceLine(good, 1, "{\"key\":\"a\",\"value\":\"1\",\"version\":3,\"ttlMs\":25000}"));
    List<KeyValue> pairs = new ArrayList<>();
    long before = System.currentTimeMillis();
    BackupFile.read(f, 10, pairs::addAll);
    long after = System.currentTimeMillis();
    KeyValue a = pairs.get(0);
    assertEquals("a", a.key());
    assertEquals(3, a.version());
    assertTrue(a.toString(), a.expiresAt() >= before + 25_000 && a.expiresAt() <= after + 25_000);
    assertEquals("the keys without ttlMs stay permanent", 0, pairs.get(1).expiresAt());
    assertTrue(rejection(replaceLine(good, 1, "{\"key\":\"a\",\"value\":\"1\",\"version\":3,\"ttlMs\":-5}"))
        .contains("line 2"));
  }

  @Test
  public void aFileThatIsNotUtf8OrNotThereIsRefused() throws Exception {
    Path f = tmp.newFile().toPath();
    byte[] text = backup(10, PAIRS).getBytes(StandardCharsets.UTF_8);
    byte[] bad = new byte[text.length + 1];
    System.arraycopy(text, 0, bad, 0, text.length);
    bad[text.length - 5] = (byte) 0xC3; // a lead byte followed by ASCII
    Files.write(f, bad);
    assertTrue(assertThrows(BackupFile.InvalidBackup.class, () -> BackupFile.verify(f)).getMessage().contains("not UTF-8"));
    Path missing = tmp.getRoot().toPath().resolve("missing.ndjson");
    assertTrue(assertThrows(BackupFile.InvalidBackup.class, () -> BackupFile.verify(missing)).getMessage()
        .contains("no such file"));
  }
}
