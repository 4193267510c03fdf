package quorumkv.storage;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.Test;

public class StateDigestTest {
  /** The definition: the first 8 bytes, big-endian, of SHA-256(utf8(key) 0x00 utf8(value)). */
  private static long reference(String key, String value) throws Exception {
    MessageDigest sha = MessageDigest.getInstance("SHA-256");
    sha.update(key.getBytes(StandardCharsets.UTF_8));
    sha.update((byte) 0);
    sha.update(value.getBytes(StandardCharsets.UTF_8));
    return ByteBuffer.wrap(sha.digest()).getLong();
  }

  @Test
  public void aPairHashIsTheFirstEightBytesOfSha256OverKeyZeroValue() throws Exception {
    // Pinned: replicas compare digests across nodes and builds, so the hash must never change.
    assertEquals(reference("k", "v"), StateDigest.pairHash("k", "v"));
    assertEquals("4351aecae8128486", StateDigest.hex(StateDigest.pairHash("k", "v")));
  }

  @Test
  public void asciiAndOtherStringsHashAsTheirUtf8Bytes() throws Exception {
    String[] samples = {
      "", "a", "key-0001", "x".repeat(4096), "y".repeat(4097), "z".repeat(100_000),
      "é", "caf\u00e9", "\u00e9" + "a".repeat(5000), "a".repeat(4095) + "\u00e9",
      "emoji \uD83D\uDE00 pair", "unpaired \uD800 surrogate", "trailing \uDC00", "\u0000nul\u007f",
      "日本語のキー"
    };
    for (String key : samples) {
      for (String value : samples) {
        assertEquals("key of " + key.length() + " chars, value of " + value.length() + " chars",
            reference(key, value), StateDigest.pairHash(key, value));
      }
    }
  }

  @Test
  public void theSeparatorKeepsSplitsApartAndRandomPairsMatchTheDefinition() throws Exception {
    assertNotEquals(StateDigest.pairHash("ab", "c"), StateDigest.pairHash("a", "bc"));
    Random random = new Random(42);
    for (int i = 0; i < 2_000; i++) {
      String key = randomString(random, random.nextInt(40));
      String value = randomString(random, random.nextInt(300));
      assertEquals(reference(key, value), StateDigest.pairHash(key, value));
    }
  }

  @Test
  public void threadsHashingAtOnceGetTheSameAnswers() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<Boolean>> results = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        int seed = t;
        results.add(pool.submit(() -> {
          Random random = new Random(seed);
          for (int i = 0; i < 5_000; i++) {
            String key = "k" + random.nextInt(1000);
            String value = randomString(random, random.nextInt(200));
            if (reference(key, value) != StateDigest.pairHash(key, value)) {
              return false;
            }
          }
          return true;
        }));
      }
      for (Future<Boolean> r : results) {
        assertTrue(r.get());
      }
    } finally {
      pool.shutdownNow();
    }
  }

  private static String randomString(Random random, int length) {
    StringBuilder b = new StringBuilder(length);
    for (int i = 0; i < length; i++) {
      int kind = random.nextInt(10);
      b.append(kind < 8 ? (char) (0x20 + random.nextInt(0x5f)) : kind == 8 ? (char) (0xa0 + random.nextInt(0x700))
          : (char) (0xd800 + random.nextInt(0x800)));
    }
    return b.toString();
  }
}
