package quorumkv.http;

import akka.japi.Pair;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Validates what clients send; every method throws {@link InvalidRequest} with a message for the user. */
final class RequestLimits {
  static final Duration MAX_TIMEOUT = Duration.ofSeconds(60);
  private static final Pattern DURATION = Pattern.compile("(\\d{1,9})(ms|s)?");
  static final Duration MIN_TTL = Duration.ofSeconds(1);
  static final Duration MAX_TTL = Duration.ofDays(30);
  /** A TTL: whole seconds, minutes, hours or days ({@code 30s}, {@code 5m}, {@code 2h}, {@code 7d}), or plain seconds. */
  private static final Pattern TTL = Pattern.compile("(\\d{1,10})([smhd]?)");
  /** A whole number as clients write one: ASCII digits only ({@code parseLong} also takes "+3" and other scripts' digits). */
  private static final Pattern DIGITS = Pattern.compile("\\d{1,18}");

  private final int maxKeyBytes;
  private final int maxValueBytes;
  private final int followers;
  private final Duration defaultTimeout;

  RequestLimits(int maxKeyBytes, int maxValueBytes, int followers, Duration defaultTimeout) {
    this.maxKeyBytes = maxKeyBytes;
    this.maxValueBytes = maxValueBytes;
    this.followers = followers;
    this.defaultTimeout = defaultTimeout;
  }

  String key(String key) {
    if (key == null || key.isEmpty()) {
      throw new InvalidRequest("key must not be empty");
    }
    if (key.equals(".") || key.equals("..")) {
      // A URL path normalises them away: /kv/.. could never read, write or delete such a key.
      throw new InvalidRequest("key must not be '.' or '..' (a URL path cannot name them)");
    }
    return keyLike("key", key);
  }

  /**
   * A key taken from the URL path (/kv/{key}). The path is percent-decoded as UTF-8, and bytes that
   * are not UTF-8 (%FF, a lone %ED%A0%80) become U+FFFD: /kv/a%FF and /kv/a%FE would be one key.
   * So a path key must not contain U+FFFD at all.
   */
  String pathKey(String key) {
    if (key != null && key.indexOf('\uFFFD') >= 0) {
      throw new InvalidRequest("the key in the path is not valid UTF-8 once percent-decoded (or holds U+FFFD, the "
          + "replacement character): percent-encode the key's UTF-8 bytes");
    }
    return key(key);
  }

  /**
   * The query string, once percent-decoded, is UTF-8. akka-http decodes it with U+FFFD in place of
   * bytes that are not (%FF, a lone %ED%A0%80), so ?prefix=%FF would have deleted every key under
   * the prefix U+FFFD. Only when a decoded name or value holds U+FFFD is the raw query decoded
   * again, strictly: a U+FFFD sent as its own UTF-8 (%EF%BF%BD) stays valid.
   */
  static void requireUtf8Query(Iterable<Pair<String, String>> decoded, Optional<String> rawQuery) {
    boolean replaced = false;
    for (Pair<String, String> p : decoded) {
      if (p.first().indexOf('\uFFFD') >= 0 || p.second().indexOf('\uFFFD') >= 0) {
        replaced = true;
        break;
      }
    }
    if (!replaced || rawQuery.isEmpty()) {
      return;
    }
    CharsetDecoder strict = StandardCharsets.UTF_8.newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT);
    for (String part : rawQuery.get().split("&")) {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream(part.length());
      for (int i = 0; i < part.length(); i++) {
        char c = part.charAt(i);
        if (c == '%' && i + 2 < part.length() && Character.digit(part.charAt(i + 1), 16) >= 0
            && Character.digit(part.charAt(i + 2), 16) >= 0) {
          bytes.write(Character.digit(part.charAt(i + 1), 16) * 16 + Character.digit(part.charAt(i + 2), 16));
          i += 2;
        } else {
          byte[] raw = String.valueOf(c).getBytes(StandardCharsets.UTF_8);
          bytes.write(raw, 0, raw.length);
        }
      }
      try {
        strict.decode(ByteBuffer.wrap(bytes.toByteArray()));
      } catch (CharacterCodingException e) {
        int eq = part.indexOf('=');
        throw new InvalidRequest("the query parameter '" + (eq < 0 ? part : part.substring(0, eq))
            + "' is not valid UTF-8 once percent-decoded: percent-encode its UTF-8 bytes; nothing was done");
      }
    }
  }

  String value(String value) {
    if (value == null || value.isEmpty()) {
      throw new InvalidRequest("value must not be empty");
    }
    int bytes = value.getBytes(StandardCharsets.UTF_8).length;
    if (bytes > maxValueBytes) {
      throw new InvalidRequest("value is " + bytes + " bytes; the limit is " + maxValueBytes + " (MAX_VALUE_BYTES)");
    }
    int unpaired = unpairedSurrogate(value);
    if (unpaired >= 0) {
      throw new InvalidRequest("value is not valid Unicode (an unpaired surrogate at character " + unpaired + ")");
    }
    return value;
  }

  /** The index of the first UTF-16 surrogate in {@code s} that is not half of a pair, or -1: no UTF-8 encodes one. */
  static int unpairedSurrogate(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
        i++;
      } else if (Character.isSurrogate(c)) {
        return i;
      }
    }
    return -1;
  }

  /** The write quorum asked for, or -1 for the cluster default. */
  int writeQuorum(Optional<String> w) {
    if (w.isEmpty()) {
      return -1;
    }
    long n = wholeNumber(w.get());
    if (n >= 0 && n <= followers) {
      return (int) n;
    }
    throw new InvalidRequest("w must be an integer from 0 to " + followers + " (the number of followers), got '" + w.get() + "'");
  }

  Duration timeout(Optional<String> timeout) {
    if (timeout.isEmpty()) {
      return defaultTimeout;
    }
    Matcher m = DURATION.matcher(timeout.get().trim());
    if (m.matches()) {
      long n = Long.parseLong(m.group(1));
      Duration d = "s".equals(m.group(2)) ? Duration.ofSeconds(n) : Duration.ofMillis(n);
      if (!d.isZero() && d.compareTo(MAX_TIMEOUT) <= 0) {
        return d;
      }
    }
    throw new InvalidRequest("timeout must be a duration from 1ms to 60s such as 500ms, 2s or 1500 (milliseconds), got '"
        + timeout.get() + "'");
  }

  /** A local read's {@code minIndex}: 0 when absent (any applied state will do). */
  long minIndex(Optional<String> minIndex) {
    return nonNegative(minIndex, 0,
        "minIndex must be a log index >= 0 (an X-Quorumkv-Index a write or read answered)");
  }

  /** A put's TTL in milliseconds, 0 when absent (the key is permanent). */
  long ttlMillis(Optional<String> ttl) {
    return ttl.isEmpty() ? 0 : ttlMillis(ttl.get(), "ttl");
  }

  /** {@code ttl} (named {@code where} in the error) in milliseconds: from 1 s to 30 days. */
  long ttlMillis(String ttl, String where) {
    Matcher m = TTL.matcher(ttl);
    if (m.matches()) {
      long n = Long.parseLong(m.group(1));
      Duration d = switch (m.group(2)) {
        case "m" -> Duration.ofMinutes(n);
        case "h" -> Duration.ofHours(n);
        case "d" -> Duration.ofDays(n);
        default -> Duration.ofSeconds(n);
      };
      if (d.compareTo(MIN_TTL) >= 0 && d.compareTo(MAX_TTL) <= 0) {
        return d.toMillis();
      }
    }
    throw new InvalidRequest(where + " must be a duration from 1s to 30d in whole seconds, minutes, hours or days "
        + "(e.g. 30s, 5m, 2h, 7d, or 90 for seconds), got '" + ttl + "'; nothing was written");
  }

  /**
   * A compare-and-set's {@code ifVersion}: -1 when absent (unconditional), else the version the
   * key must have (0: it must be absent).
   */
  long ifVersion(Optional<String> ifVersion) {
    return nonNegative(ifVersion, -1, "ifVersion must be an integer version >= 0 (0: only if the key is absent)");
  }

  /** {@code value} as a whole number >= 0, {@code absent} when there is none; else 400 with {@code error}. */
  private static long nonNegative(Optional<String> value, long absent, String error) {
    if (value.isEmpty()) {
      return absent;
    }
    long n = wholeNumber(value.get());
    if (n >= 0) {
      return n;
    }
    throw new InvalidRequest(error + ", got '" + value.get() + "'");
  }

  /** The prefix of a prefix delete: required and non-empty (deleting every key takes a prefix). */
  String deletePrefix(Optional<String> prefix) {
    if (prefix.isEmpty() || prefix.get().isEmpty()) {
      throw new InvalidRequest("DELETE /kv needs a non-empty prefix: DELETE /kv?prefix=P deletes every key starting "
          + "with P; use DELETE /kv/{key} for one key");
    }
    return keyLike("prefix", prefix.get());
  }

  static final int DEFAULT_RANGE_LIMIT = 100;
  static final int MAX_RANGE_LIMIT = 1000;

  /** A range's prefix: may be empty (every key), else held to what a key may be. */
  String prefix(Optional<String> prefix) {
    if (prefix.isEmpty() || prefix.get().isEmpty()) {
      return "";
    }
    return keyLike("prefix", prefix.get());
  }

  /** The key a range page continues after; null when absent. Need not exist, but must be a possible key. */
  String after(Optional<String> after) {
    if (after.isEmpty()) {
      return null;
    }
    if (after.get().isEmpty()) {
      throw new InvalidRequest("after must not be empty: leave it out to start at the first key of the range");
    }
    return keyLike("after", after.get());
  }

  int rangeLimit(Optional<String> limit) {
    if (limit.isEmpty()) {
      return DEFAULT_RANGE_LIMIT;
    }
    long n = wholeNumber(limit.get());
    if (n >= 1 && n <= MAX_RANGE_LIMIT) {
      return (int) n;
    }
    throw new InvalidRequest("limit must be an integer from 1 to " + MAX_RANGE_LIMIT + ", got '" + limit.get() + "'");
  }

  /** {@code s} as a whole number of ASCII digits (surrounding blanks ignored), or -1 if it is not one. */
  private static long wholeNumber(String s) {
    String t = s.trim();
    return DIGITS.matcher(t).matches() ? Long.parseLong(t) : -1;
  }

  boolean flag(String name, Optional<String> flag) {
    if (flag.isEmpty()) {
      return false;
    }
    return switch (flag.get()) {
      case "true" -> true;
      case "false" -> false;
      default -> throw new InvalidRequest(name + " must be 'true' or 'false', got '" + flag.get() + "'");
    };
  }

  private String keyLike(String name, String s) {
    int bytes = s.getBytes(StandardCharsets.UTF_8).length;
    if (bytes > maxKeyBytes) {
      throw new InvalidRequest(name + " is " + bytes + " bytes; the limit for keys is " + maxKeyBytes + " (MAX_KEY_BYTES)");
    }
    for (int i = 0; i < s.length(); i++) {
      if (Character.isISOControl(s.charAt(i))) {
        throw new InvalidRequest(name + " must not contain control characters");
      }
    }
    int unpaired = unpairedSurrogate(s);
    if (unpaired >= 0) {
      throw new InvalidRequest(name + " is not valid Unicode (an unpaired surrogate at character " + unpaired + ")");
    }
    return s;
  }

  ReadConsistency consistency(Optional<String> consistency) {
    return ReadConsistency.parse(consistency.orElse("local"));
  }
}
