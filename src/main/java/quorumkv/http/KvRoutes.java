package quorumkv.http;

import akka.NotUsed;
import akka.actor.Cancellable;
import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.AskPattern;
import akka.cluster.Member;
import akka.cluster.MemberStatus;
import akka.cluster.typed.Cluster;
import akka.http.javadsl.model.ContentType;
import akka.http.javadsl.model.ContentTypes;
import akka.http.javadsl.model.HttpCharset;
import akka.http.javadsl.model.HttpCharsets;
import akka.http.javadsl.model.HttpEntities;
import akka.http.javadsl.model.HttpRequest;
import akka.http.javadsl.model.HttpResponse;
import akka.http.javadsl.model.MediaTypes;
import akka.http.javadsl.model.Query;
import akka.http.javadsl.model.HttpEntity;
import akka.http.javadsl.model.StatusCode;
import akka.http.javadsl.model.StatusCodes;
import akka.http.javadsl.model.headers.RawHeader;
import akka.http.javadsl.server.AllDirectives;
import akka.http.javadsl.server.ExceptionHandler;
import akka.http.javadsl.server.PathMatchers;
import akka.http.javadsl.server.RejectionHandler;
import akka.http.javadsl.server.Rejections;
import akka.http.javadsl.server.Route;
import akka.http.javadsl.unmarshalling.Unmarshaller;
import akka.stream.javadsl.Source;
import akka.util.ByteString;
import akka.util.ByteStringBuilder;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.util.MinimalPrettyPrinter;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import scala.concurrent.ExecutionContext;
import scala.concurrent.Promise;
import scala.compat.java8.FutureConverters;
import quorumkv.config.Settings;
import quorumkv.replication.FollowerActor;
import quorumkv.replication.LeaderActor;
import quorumkv.replication.ReadResult;
import quorumkv.replication.ReplicaView;
import quorumkv.replication.WriteForwarder;
import quorumkv.replication.WriteResult;
import quorumkv.metrics.Metrics;
import quorumkv.storage.KeyPage;
import quorumkv.storage.KeyValue;
import quorumkv.storage.ReplicaState;
import quorumkv.storage.TxnOpResult;
import quorumkv.storage.WriteCommand;

/**
 * The HTTP API of every node. Writes go to this node's LeaderActor, which passes them on to the leader (wherever it
 * runs); reads are served by this node's replica unless the client asks for the leader's. The
 * actors know nothing of HTTP: this class asks them and maps their answers to status codes.
 */
public final class KvRoutes extends AllDirectives {
  private static final Duration STATUS_ASK = Duration.ofSeconds(2);
  /** The applied log index a KV response was served at (as Consul's X-Consul-Index). */
  static final String INDEX_HEADER = "X-Quorumkv-Index";
  private static final ContentType NDJSON =
      MediaTypes.applicationWithFixedCharset("x-ndjson", HttpCharsets.UTF_8).toContentType();
  /**
   * Characters of keys and values per chunk of a backup stream (a chunk ends at the key that
   * reaches it): the stream holds a chunk or two per client while it waits for the client. It was
   * 1,000 keys, up to 64 MB (393 MB of escaped JSON) each: a few slow backups took a node's heap.
   */
  private static final long BACKUP_CHUNK_CHARS = 1L << 18;

  private final Settings settings;
  private final ActorSystem<?> system;
  private final ActorRef<LeaderActor.Command> leader;
  private final ActorRef<WriteForwarder.Command> writes;
  private final ActorRef<FollowerActor.Command> localReplica;
  private final ReplicaView localView;
  private final RequestLimits limits;
  private final TxnRequest txnRequest;
  private final WatchRoutes watchRoutes;
  private static final ContentType.WithCharset PROMETHEUS_TEXT =
      MediaTypes.TEXT_PLAIN.toContentType(HttpCharsets.UTF_8);
  private final Metrics metrics;
  /** Strict: trailing tokens after the object and a field given twice ({"key":"a","key":"b"}) are 400s. */
  private final ObjectMapper mapper = new ObjectMapper()
      .enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .enable(com.fasterxml.jackson.core.JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
  /** Built once: the Java DSL evaluates route suppliers per request, and these were built in them. */
  private final ExceptionHandler exceptionHandler;
  private final RejectionHandler rejectionHandler;
  /**
   * The routes, built once: a route supplier of the Java DSL runs for every request it sees, so a
   * tree built inside one was built anew per request (dozens of objects on every request).
   */
  private final Route api;

  public KvRoutes(
      Settings settings, ActorSystem<?> system, ActorRef<LeaderActor.Command> leader,
      ActorRef<WriteForwarder.Command> writes, ActorRef<FollowerActor.Command> localReplica, ReplicaView localView) {
    this.settings = settings;
    this.system = system;
    this.leader = leader;
    this.writes = writes;
    this.localReplica = localReplica;
    this.localView = localView;
    this.metrics = Metrics.get(system);
    this.limits = new RequestLimits(settings.maxKeyBytes(), settings.maxValueBytes(),
        settings.replication().followers(), settings.replication().timeout());
    this.txnRequest = new TxnRequest(limits);
    this.watchRoutes = new WatchRoutes(settings, system, localView, limits);
    this.exceptionHandler = newExceptionHandler();
    this.rejectionHandler = newRejectionHandler();
    this.api = api();
  }

  private static final java.util.Set<String> ROUTES =
      java.util.Set.of("kv", "txn", "watch", "set", "get", "write", "read", "backup", "status", "health", "ready", "metrics");

  /**
   * The handler the node binds. A put, a delete and a local read of one key, the requests a load is
   * made of, are answered here without the route tree when they come in their plain form; every other
   * request, and any of them that is not plain (a parameter it does not take, a body not sent
   * whole, input that is not valid), goes through {@link #routes()}, which answers it exactly as
   * before. The same methods build the answers on both ways. Why: under local reads the route tree's
   * directives took ~11 % of a node's CPU (docs/performance-log.md, "A put and a local read
   * of one key answered without the route tree").
   */
  public akka.japi.function.Function<HttpRequest, CompletionStage<HttpResponse>> handler() {
    akka.japi.function.Function<HttpRequest, CompletionStage<HttpResponse>> routed = routes().handler(system);
    return request -> {
      CompletionStage<HttpResponse> direct = direct(request);
      return direct != null ? direct : routed.apply(request);
    };
  }

  /** The answer to a plain put, delete or local read of one key, or null when the route tree must answer. */
  private CompletionStage<HttpResponse> direct(HttpRequest request) {
    String method = request.method().value();
    boolean get = method.equals("GET");
    if (!get && !method.equals("PUT") && !method.equals("DELETE")) {
      return null;
    }
    String rawKey = keyOfPath(request);
    if (rawKey == null) {
      return null;
    }
    long started = System.nanoTime();
    CompletionStage<HttpResponse> answer;
    try { // until the write is sent: anything not plain goes to the route tree, which answers it
      Query q = request.getUri().query();
      checkQuery(q, request.getUri(), get ? READ_PARAMS : method.equals("PUT") ? PUT_PARAMS : DELETE_PARAMS);
      String key = limits.pathKey(rawKey);
      if (get) {
        if (q.get("minIndex").isPresent() || limits.consistency(q.get("consistency")) != ReadConsistency.LOCAL) {
          return null;
        }
        Optional<FollowerActor.Value> published = localView.read(key);
        if (published.isEmpty()) {
          return null;
        }
        HttpResponse response = valueAnswer(key, published.get());
        metrics.request("GET", "kv", response.status().intValue(), System.nanoTime() - started);
        return CompletableFuture.completedFuture(response);
      }
      WriteParams params = writeParams(q);
      long ifVersion = limits.ifVersion(q.get("ifVersion"));
      if (method.equals("DELETE")) {
        answer = keyWriteAnswer(key, null, ifVersion, 0, params);
      } else {
        long ttlMs = limits.ttlMillis(q.get("ttl"));
        if (request.getHeader("Content-Encoding").isPresent() || !(request.entity() instanceof HttpEntity.Strict strict)) {
          return null;
        }
        Optional<HttpCharset> named = strict.getContentType().getCharsetOption();
        String value = limits.value(text(strict.getData(), named.map(HttpCharset::nioCharset).orElse(StandardCharsets.UTF_8)));
        answer = keyWriteAnswer(key, value, ifVersion, ttlMs, params);
      }
    } catch (RuntimeException notPlain) {
      return null;
    }
    return recorded(answer, method, started);
  }

  /** A write's answer as the route tree gives it: the index header, and the request counted. */
  private CompletionStage<HttpResponse> recorded(CompletionStage<HttpResponse> answer, String method, long started) {
    return answer.handle((response, failure) -> {
      HttpResponse indexed = withLocalIndex(failure == null ? response : internalError(failure));
      metrics.request(method, "kv", indexed.status().intValue(), System.nanoTime() - started);
      return indexed;
    });
  }

  /** The key of a request for exactly {@code /kv/{key}} (one segment, percent-decoded), else null. */
  private static String keyOfPath(HttpRequest request) {
    var path = ((akka.http.scaladsl.model.HttpRequest) request).uri().path();
    if (!path.startsWithSlash()) {
      return null;
    }
    path = path.tail();
    if (!path.startsWithSegment() || !"kv".equals(path.head())) {
      return null;
    }
    path = path.tail();
    if (!path.startsWithSlash()) {
      return null;
    }
    path = path.tail();
    return path.startsWithSegment() && path.tail().isEmpty() ? (String) path.head() : null;
  }

  public Route routes() {
    return extractRequest(request -> {
      long started = System.nanoTime(); // routing starts: the request's headers have arrived
      return mapResponse(response -> {
        String first = request.getUri().pathSegments().iterator().hasNext()
            ? request.getUri().pathSegments().iterator().next() : "";
        metrics.request(request.method().value(), ROUTES.contains(first) ? first : "other",
            response.status().intValue(), System.nanoTime() - started);
        return response;
      }, () -> api);
    });
  }

  /**
   * The route tree, built once (see {@link #api}): every supplier below returns a route made
   * beforehand, except where the route depends on the request (a key, a parameter).
   */
  private Route api() {
    Route kv = kv();
    Route txn = withIndexAndErrors(post(this::txn));
    Route backup = get(this::backup);
    Route watch = get(watchRoutes::watch);
    Route jsonWrite = post(this::jsonWrite);
    Route keyParam = get(this::keyParam);
    Route status = get(this::status);
    Route health = get(() -> json(StatusCodes.OK, Map.of("status", "ok", "node", settings.nodeId())));
    Route ready = get(this::ready);
    Route metricsText = get(() -> complete(HttpEntities.create(PROMETHEUS_TEXT, metrics.scrape())));
    Route all = concat(
        pathPrefix("kv", () -> kv),
        path("txn", () -> txn),
        path("backup", () -> backup),
        path("watch", () -> watch),
        path("set", () -> jsonWrite),
        path("write", () -> jsonWrite),
        path("get", () -> keyParam),
        path("read", () -> keyParam),
        path("status", () -> status),
        path("health", () -> health),
        path("ready", () -> ready),
        path("metrics", () -> metricsText));
    return errorsAsJson(all);
  }

  /** {@code inner} with exceptions and rejections answered as JSON. */
  private Route errorsAsJson(Route inner) {
    Route rejectionsHandled = handleRejections(rejectionHandler, () -> inner);
    return handleExceptions(exceptionHandler, () -> rejectionsHandled);
  }

  /** {@code inner} with JSON errors, every answer carrying {@code X-Quorumkv-Index}. */
  private Route withIndexAndErrors(Route inner) {
    Route handled = errorsAsJson(inner);
    return mapResponse(this::withLocalIndex, () -> handled);
  }

  /**
   * {@code /kv} (ranges) and {@code /kv/{key}}. Every answer carries {@code X-Quorumkv-Index}, errors
   * and rejections included, so they are handled here, inside {@link #withLocalIndex}.
   */
  private Route kv() {
    Route emptyKey = failWith(new InvalidRequest("key must not be empty: use /kv/{key}"));
    Route prefix = concat(get(this::range), delete(this::deletePrefix), emptyKey);
    return withIndexAndErrors(concat(
        pathEnd(() -> prefix),
        pathSingleSlash(() -> emptyKey),
        path(PathMatchers.segment(), key -> concat(
            put(() -> withQuery(PUT_PARAMS, q -> {
              WriteParams params = writeParams(q);
              long ifVersion = limits.ifVersion(q.get("ifVersion"));
              long ttlMs = limits.ttlMillis(q.get("ttl"));
              String checkedKey = limits.pathKey(key);
              return withBodyText(body -> keyWrite(checkedKey, limits.value(body), ifVersion, ttlMs, params));
            })),
            get(() -> withQuery(READ_PARAMS, q -> keyRead(limits.pathKey(key), q))),
            delete(() -> withQuery(DELETE_PARAMS, q -> {
              WriteParams params = writeParams(q);
              return keyWrite(limits.pathKey(key), null, limits.ifVersion(q.get("ifVersion")), 0, params);
            })))),
        pathPrefix(PathMatchers.segment().slash(), first -> json(StatusCodes.NOT_FOUND, error(
            "no such resource: a key is one path segment, so a '/' in a key is sent as %2F (/kv/"
                + first + "%2F...)")))));
  }

  // The query parameters each endpoint takes; any other is a 400, so that a misspelt one (ifversion=)
  // cannot turn a compare-and-set or a TTL into a plain write.
  private static final Set<String> PUT_PARAMS = Set.of("w", "timeout", "ifVersion", "ttl");
  private static final Set<String> DELETE_PARAMS = Set.of("w", "timeout", "ifVersion");
  private static final Set<String> READ_PARAMS = Set.of("consistency", "minIndex", "timeout");
  private static final Set<String> KEY_READ_PARAMS = Set.of("key", "consistency", "minIndex", "timeout");
  private static final Set<String> RANGE_PARAMS = Set.of("prefix", "after", "limit", "keysOnly", "consistency");
  private static final Set<String> PREFIX_DELETE_PARAMS = Set.of("prefix", "w", "timeout");
  private static final Set<String> TXN_PARAMS = Set.of("w", "timeout");
  private static final Set<String> BACKUP_PARAMS = Set.of("consistency");

  /** A read of one key at the consistency the query asks for; with {@code minIndex}, once this node has applied it. */
  private Route keyRead(String key, Query q) {
    Optional<String> minIndex = q.get("minIndex");
    return minIndex.isPresent()
        ? readAtLeast(key, limits.consistency(q.get("consistency")), limits.minIndex(minIndex),
            limits.timeout(q.get("timeout")))
        : read(key, limits.consistency(q.get("consistency")));
  }

  /**
   * {@code inner} given the request body as text, decoded strictly in the charset its Content-Type
   * names (UTF-8 when it names none): bytes that are not text in that charset are a 400, where
   * akka-http's string unmarshaller would store U+FFFD in their place. A compressed body
   * (Content-Encoding other than identity) is a 415: it would be stored as it came.
   */
  private Route withBodyText(Function<String, Route> inner) {
    return extractRequest(request -> {
      Optional<akka.http.javadsl.model.HttpHeader> encoding = request.getHeader("Content-Encoding");
      if (encoding.isPresent() && !encoding.get().value().trim().equalsIgnoreCase("identity")) {
        return json(StatusCodes.UNSUPPORTED_MEDIA_TYPE, error("Content-Encoding '" + encoding.get().value()
            + "' is not supported: send the body uncompressed; nothing was written"));
      }
      Optional<HttpCharset> named = request.entity().getContentType().getCharsetOption();
      java.nio.charset.Charset charset;
      try {
        charset = named.map(HttpCharset::nioCharset).orElse(StandardCharsets.UTF_8);
      } catch (IllegalArgumentException e) { // unknown or unsupported by this JVM (the name came with the request)
        return json(StatusCodes.UNSUPPORTED_MEDIA_TYPE, error("charset '" + named.get().value()
            + "' in Content-Type is not supported: send the body in UTF-8 (or name a charset Java knows); nothing was written"));
      }
      if (request.entity() instanceof HttpEntity.Strict strict) { // the whole body came with the headers
        return inner.apply(text(strict.getData(), charset));
      }
      return entity(Unmarshaller.entityToByteString(), bytes -> inner.apply(text(bytes, charset)));
    });
  }

  /** {@code bytes} decoded strictly in {@code charset}; a 400 when they are not text in it. */
  private static String text(ByteString bytes, java.nio.charset.Charset charset) {
    if (charset.equals(StandardCharsets.UTF_8) && isAscii(bytes)) {
      return bytes.decodeString(StandardCharsets.ISO_8859_1); // ASCII: each byte its character
    }
    try {
      return charset.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(bytes.asByteBuffer())
          .toString();
    } catch (CharacterCodingException e) {
      throw new InvalidRequest("body is not valid " + charset.name() + " text (values are text: send "
          + "binary data encoded, e.g. as base64); nothing was written");
    }
  }

  private static boolean isAscii(ByteString bytes) {
    java.nio.ByteBuffer buffer = bytes.asByteBuffer();
    for (int i = buffer.position(); i < buffer.limit(); i++) {
      if (buffer.get(i) < 0) {
        return false;
      }
    }
    return true;
  }

  /**
   * {@code inner} given the request's query, parsed once for all the parameters a route reads.
   * akka-http's {@code parameterOptional} parses the query string again for each parameter and
   * passes every value through an unmarshaller and a future (3.4–5.2 % of a node's samples under
   * local reads, which take three parameters; the A/B of this change saw no difference beyond its
   * noise; docs/performance-log.md, "The routes' parameters read from one parsed query"). A query
   * string that cannot be parsed is rejected as {@code parameterOptional} rejects it (400, "The
   * request's query string is invalid.").
   */
  private Route withQuery(Set<String> accepted, Function<Query, Route> inner) {
    return extractUri(uri -> {
      Query query;
      try {
        query = uri.query();
      } catch (RuntimeException e) {
        return reject(Rejections.malformedRequestContent("The request's query string is invalid.", e));
      }
      checkQuery(query, uri, accepted);
      return inner.apply(query);
    });
  }

  /** {@code query} (parsed from {@code uri}) is UTF-8 and holds only parameters the endpoint takes; else a 400. */
  private static void checkQuery(Query query, akka.http.javadsl.model.Uri uri, Set<String> accepted) {
    RequestLimits.requireUtf8Query(query.toList(), uri.rawQueryString());
    checkParameters(query, accepted);
  }

  /** Every parameter of {@code query} is one the endpoint takes, and none comes twice; else a 400. */
  private static void checkParameters(Query query, Set<String> accepted) {
    List<akka.japi.Pair<String, String>> given = query.toList();
    if (given.isEmpty()) {
      return;
    }
    Set<String> seen = given.size() > 1 ? new java.util.HashSet<>() : null;
    for (akka.japi.Pair<String, String> p : given) {
      if (!accepted.contains(p.first())) {
        throw new InvalidRequest("unknown parameter '" + p.first() + "': this endpoint takes "
            + String.join(", ", new java.util.TreeSet<>(accepted)) + "; nothing was done");
      }
      if (seen != null && !seen.add(p.first())) {
        throw new InvalidRequest("parameter '" + p.first() + "' is given more than once; nothing was done");
      }
    }
  }

  /**
   * A put ({@code value}) or delete ({@code null}) of one key; a compare-and-set when
   * {@code ifVersion >= 0}; with a TTL when {@code ttlMs > 0} (a put without one makes the key permanent).
   */
  private Route keyWrite(String key, String value, long ifVersion, long ttlMs, WriteParams params) {
    return completeWithFuture(keyWriteAnswer(key, value, ifVersion, ttlMs, params));
  }

  private CompletionStage<HttpResponse> keyWriteAnswer(String key, String value, long ifVersion, long ttlMs,
      WriteParams params) {
    if (ifVersion >= 0) {
      return writeAnswer(key, null, new WriteCommand.IfVersion(key, value, ifVersion, ttlMs, 0), params);
    }
    return ttlMs > 0
        ? writeAnswer(key, null, new WriteCommand.Put(key, value, ttlMs, 0), params)
        : writeAnswer(key, value, null, params);
  }

  private Route deletePrefix() {
    return withQuery(PREFIX_DELETE_PARAMS, q -> {
      WriteParams params = writeParams(q);
      return write(null, null, new WriteCommand.DeletePrefix(limits.deletePrefix(q.get("prefix"))), params);
    });
  }

  private Route txn() {
    return withQuery(TXN_PARAMS, q -> {
      WriteParams params = writeParams(q);
      return withBodyText(body -> {
        txnRequest.checkSize(body);
        WriteCommand.Txn txn = txnRequest.parse(parseObject(body));
        return write(null, null, txn, params);
      });
    });
  }

  // --- writes ---

  private record WriteParams(int writeQuorum, Duration timeout) {}

  private WriteParams writeParams(Query query) {
    return new WriteParams(limits.writeQuorum(query.get("w")), limits.timeout(query.get("timeout")));
  }

  /** {@code POST /set} and {@code /write}: a put as {@code PUT /kv/{key}}, the key and value in a JSON body. */
  private Route jsonWrite() {
    return withQuery(PUT_PARAMS, q -> {
      WriteParams params = writeParams(q);
      long ifVersion = limits.ifVersion(q.get("ifVersion"));
      long ttlMs = limits.ttlMillis(q.get("ttl"));
      return withBodyText(body -> {
        JsonNode json = parseObject(body);
        json.fieldNames().forEachRemaining(field -> {
          if (!field.equals("key") && !field.equals("value")) {
            throw new InvalidRequest("unknown field '" + field + "': the body takes key and value (w, timeout, "
                + "ifVersion and ttl are query parameters); nothing was written");
          }
        });
        String key = limits.key(stringField(json, "key"));
        String value = limits.value(stringField(json, "value"));
        return keyWrite(key, value, ifVersion, ttlMs, params);
      });
    });
  }

  /**
   * Sends a write to the leader (through this node's forwarder) and answers with its outcome: a
   * plain put or delete of {@code key}, or a {@code command} whose outcome the leader learns once
   * the entry is committed and applied ({@code key} then null unless it is a compare-and-set).
   */
  private Route write(String key, String value, WriteCommand command, WriteParams params) {
    return completeWithFuture(writeAnswer(key, value, command, params));
  }

  /** The answer to the write, once the leader's outcome (or none) has come through this node's forwarder. */
  private CompletionStage<HttpResponse> writeAnswer(String key, String value, WriteCommand command, WriteParams params) {
    long timeoutMillis = params.timeout().toMillis();
    long started = System.nanoTime();
    CompletableFuture<WriteResult> result = new CompletableFuture<>();
    writes.tell(new WriteForwarder.Forward(key, value, command, params.writeQuorum(), timeoutMillis, result));
    return result.handle((outcome, failure) -> {
      metrics.write(params.writeQuorum(), failure != null ? "no-answer" : outcome(outcome), System.nanoTime() - started);
      if (failure != null) {
        return answer(StatusCodes.SERVICE_UNAVAILABLE, error(
            "no answer from the leader within " + params.timeout().plus(settings.askTimeout()).toMillis()
                + " ms (no leader elected yet, or it is unreachable); the write may or may not have been applied",
            "key", key));
      }
      if (outcome instanceof WriteResult.Written w) {
        metrics.acks(w.acks());
      } else if (outcome instanceof WriteResult.Deleted d) {
        metrics.acks(d.acks());
      }
      return writeResponse(outcome);
    });
  }

  private static String outcome(WriteResult result) {
    if (result instanceof WriteResult.Written || result instanceof WriteResult.Deleted) return "written";
    if (result instanceof WriteResult.ConditionFailed) return "condition-failed";
    if (result instanceof WriteResult.PrefixDeleted) return "prefix-deleted";
    if (result instanceof WriteResult.TxnDone) return "txn";
    if (result instanceof WriteResult.QuorumNotReached) return "quorum-not-reached";
    if (result instanceof WriteResult.NotEnoughReplicas) return "not-enough-replicas";
    if (result instanceof WriteResult.NoLeader) return "no-leader";
    return "overloaded";
  }

  private HttpResponse writeResponse(WriteResult result) {
    if (result instanceof WriteResult.Written w) {
      return JsonAnswer.fields(mapper, StatusCodes.OK, "key", w.key(), "version", w.version(),
          "acks", w.acks(), "quorum", w.quorum(), "node", w.node()).addHeader(indexHeader(w.version()));
    } else if (result instanceof WriteResult.Deleted d) {
      return JsonAnswer.fields(mapper, StatusCodes.OK, "key", d.key(), "deleted", d.found(), "version", d.version(),
          "acks", d.acks(), "quorum", d.quorum(), "node", d.node()).addHeader(indexHeader(d.version()));
    } else if (result instanceof WriteResult.ConditionFailed f) {
      return answer(StatusCodes.PRECONDITION_FAILED, error(
          "compare-and-set failed: the key's version is " + f.currentVersion()
              + (f.currentVersion() == 0 ? " (absent)" : "") + ", not the one asked for; nothing was changed",
          "key", f.key(), "currentVersion", f.currentVersion())).addHeader(indexHeader(f.version()));
    } else if (result instanceof WriteResult.PrefixDeleted p) {
      return answer(StatusCodes.OK, ordered(
          "prefix", p.prefix(), "deleted", p.deleted(), "version", p.version(), "acks", p.acks(),
          "quorum", p.quorum(), "node", p.node())).addHeader(indexHeader(p.version()));
    } else if (result instanceof WriteResult.TxnDone t) {
      List<Map<String, Object>> results = new ArrayList<>(t.results().size());
      for (TxnOpResult r : t.results()) {
        results.add(switch (r.op()) {
          case PUT -> ordered("key", r.key(), "version", r.version());
          case DELETE -> ordered("key", r.key(), "deleted", r.found());
          case GET -> r.found() ? withTtl(ordered("key", r.key(), "value", r.value(), "version", r.version()),
              r.expiresAt(), System.currentTimeMillis()) : ordered("key", r.key(), "found", false);
        });
      }
      return answer(StatusCodes.OK, ordered(
          "succeeded", t.succeeded(), "version", t.version(), "results", results)).addHeader(indexHeader(t.version()));
    } else if (result instanceof WriteResult.QuorumNotReached q) {
      return answer(StatusCodes.SERVICE_UNAVAILABLE, error(q.reason(),
          "key", q.key(), "version", q.version(), "acks", q.acks(), "required", q.quorum(), "node", q.node()));
    } else if (result instanceof WriteResult.NotEnoughReplicas n) {
      return answer(StatusCodes.SERVICE_UNAVAILABLE, error(String.format(
              "not enough replicas reachable: %d followers reachable, the quorum needs %d; nothing was written",
              n.reachable(), n.quorum()),
          "key", n.key(), "acks", 0, "required", n.quorum(), "reachable", n.reachable(), "node", n.node()));
    } else if (result instanceof WriteResult.NoLeader n) {
      return answer(StatusCodes.SERVICE_UNAVAILABLE, error(n.reason() + "; nothing was written", "key", n.key(), "node", n.node()));
    } else if (result instanceof WriteResult.Overloaded o) {
      return answer(StatusCodes.SERVICE_UNAVAILABLE, error(
          "leader overloaded: " + o.pending() + " writes are waiting for their quorum; nothing was written, retry later",
          "key", o.key(), "node", o.node()));
    }
    throw new IllegalStateException("unknown write result " + result);
  }

  // --- reads ---

  private Route keyParam() {
    return withQuery(KEY_READ_PARAMS, q -> keyRead(limits.key(q.get("key").orElse(null)), q));
  }

  private Route read(String key, ReadConsistency consistency) {
    if (consistency == ReadConsistency.LOCAL) {
      Optional<FollowerActor.Value> published = localView.read(key);
      if (published.isPresent()) { // the replica has recovered: no message to it needed
        return valueResponse(key, published.get());
      }
    }
    CompletionStage<ReadResult> result = switch (consistency) {
      case LOCAL -> AskPattern.<FollowerActor.Command, ReadResult>ask(localReplica,
          replyTo -> new FollowerActor.ReadAt(key, 0, replyTo), settings.askTimeout(), system.scheduler());
      case LEADER -> askLeader(replyTo -> new LeaderActor.Read(key, LeaderActor.ReadLevel.LEADER, replyTo, false),
          settings.askTimeout());
      case LINEARIZABLE -> askLeader(
          replyTo -> new LeaderActor.Read(key, LeaderActor.ReadLevel.LINEARIZABLE, replyTo, false),
          settings.askTimeout().plus(settings.replication().timeout()));
    };
    return onComplete(result, tried -> {
      if (tried.isFailure()) {
        return json(StatusCodes.SERVICE_UNAVAILABLE, error(consistency == ReadConsistency.LOCAL
            ? "no answer from this node's replica (still recovering?)"
            : "no answer from the leader (no leader elected yet, or it is unreachable)", "key", key));
      }
      if (tried.get() instanceof ReadResult.Unavailable unavailable) {
        return json(StatusCodes.SERVICE_UNAVAILABLE, error(unavailable.reason(), "key", key));
      }
      return valueResponse(key, (FollowerActor.Value) tried.get());
    });
  }

  /**
   * A local read that waits until this node's replica has applied {@code minIndex} (read your own
   * writes on any node: pass the {@code X-Quorumkv-Index} a write answered), at most
   * {@code timeout}; then 503, never an older state.
   */
  private Route readAtLeast(String key, ReadConsistency consistency, long minIndex, Duration timeout) {
    if (consistency != ReadConsistency.LOCAL) {
      throw new InvalidRequest("minIndex is for consistency=local reads (leader and linearizable reads already "
          + "see every acknowledged write)");
    }
    Optional<CompletableFuture<ReplicaState>> waiting = localView.awaitApplied(minIndex);
    if (waiting.isEmpty()) {
      return json(StatusCodes.SERVICE_UNAVAILABLE, error("too many reads waiting for an index on this node ("
          + ReplicaView.MAX_WAITING + "); retry shortly", "key", key));
    }
    CompletableFuture<ReplicaState> until = waiting.get();
    if (!until.isDone()) {
      Cancellable timer = system.scheduler().scheduleOnce(timeout, () -> {
        if (until.completeExceptionally(new TimeoutException())) {
          localView.stopWaiting(until);
        }
      }, system.executionContext());
      until.whenComplete((s, failure) -> timer.cancel());
    }
    // Answered on the HTTP dispatcher, not on the replica's thread that completed the wait.
    CompletionStage<ReplicaState> state = until.thenApplyAsync(s -> s, system.executionContext());
    return onComplete(state, tried -> {
      if (tried.isFailure()) {
        Optional<ReplicaState> now = localView.state();
        if (now.isPresent() && now.get().appliedIndex() >= minIndex) {
          return valueResponse(key, localView.read(now.get(), key)); // applied just as the wait timed out
        }
        long applied = now.map(ReplicaState::appliedIndex).orElse(0L);
        return json(StatusCodes.SERVICE_UNAVAILABLE, error("this node's replica has applied index " + applied
            + ", not yet " + minIndex + ", after " + timeout.toMillis() + " ms (catching up, or cut off from the leader)",
            "key", key, "minIndex", minIndex, "appliedIndex", applied));
      }
      return valueResponse(key, localView.read(tried.get(), key));
    });
  }

  private Route valueResponse(String key, FollowerActor.Value v) {
    return complete(valueAnswer(key, v));
  }

  private HttpResponse valueAnswer(String key, FollowerActor.Value v) {
    HttpResponse answer;
    if (!v.found()) {
      answer = JsonAnswer.fields(mapper, StatusCodes.NOT_FOUND, "error", "key '" + key + "' not found", "key", key,
          "node", v.node());
    } else if (v.expiresAt() == 0) {
      answer = JsonAnswer.fields(mapper, StatusCodes.OK, "key", v.key(), "value", v.value(), "node", v.node(),
          "version", v.version());
    } else {
      answer = JsonAnswer.fields(mapper, StatusCodes.OK, "key", v.key(), "value", v.value(), "node", v.node(),
          "version", v.version(), "ttlMs", ttlLeft(v.expiresAt(), System.currentTimeMillis()));
    }
    return answer.addHeader(indexHeader(v.appliedIndex()));
  }

  /** Adds {@code ttlMs}, the time left (never below 0), for a key with a TTL ({@code expiresAt != 0}). */
  private static Map<String, Object> withTtl(Map<String, Object> fields, long expiresAt, long nowMillis) {
    if (expiresAt != 0) {
      fields.put("ttlMs", ttlLeft(expiresAt, nowMillis));
    }
    return fields;
  }

  private static long ttlLeft(long expiresAt, long nowMillis) {
    return Math.max(0, expiresAt - nowMillis);
  }

  private static RawHeader indexHeader(long index) {
    return RawHeader.create(INDEX_HEADER, Long.toString(index));
  }

  /**
   * Every /kv answer carries the index header: reads and writes set their own; any other answer
   * (bad input, 503) gets this node's applied index, when its replica has recovered.
   */
  private HttpResponse withLocalIndex(HttpResponse response) {
    if (response.getHeader(INDEX_HEADER).isPresent()) {
      return response;
    }
    return localView.state().map(s -> response.addHeader(indexHeader(s.appliedIndex()))).orElse(response);
  }

  // --- ranges and backups: served from one whole state of this node's replica ---

  /** Why a state could not be had at the consistency asked for: 503 with this message. */
  private static final class StateUnavailable extends RuntimeException {
    StateUnavailable(String message) {
      super(message, null, false, false);
    }
  }

  /**
   * One whole applied state of this node's replica, fresh enough for {@code consistency}: for
   * {@code local} the one last published; for {@code leader} and {@code linearizable} the leader
   * first gives a read index (its commit index when the read arrived, after W followers confirmed
   * its term for linearizable) and the state is the first one here that has applied it. The
   * leader's state at that index would hold the same keys; serving it here keeps a page, or a
   * 100 MB backup, off the network between nodes.
   */
  private CompletionStage<ReplicaState> stateFor(ReadConsistency consistency) {
    if (consistency == ReadConsistency.LOCAL) {
      Optional<ReplicaState> published = localView.state();
      if (published.isPresent()) {
        return CompletableFuture.completedFuture(published.get());
      }
      return stateAt(0);
    }
    LeaderActor.ReadLevel level = consistency == ReadConsistency.LEADER
        ? LeaderActor.ReadLevel.LEADER : LeaderActor.ReadLevel.LINEARIZABLE;
    CompletionStage<ReadResult> readIndex = askLeader(replyTo -> new LeaderActor.ReadIndex(level, replyTo),
            level == LeaderActor.ReadLevel.LEADER ? settings.askTimeout()
                : settings.askTimeout().plus(settings.replication().timeout()))
        .exceptionallyAsync(failure -> {
          throw new StateUnavailable("no answer from the leader (no leader elected yet, or it is unreachable)");
        }, system.executionContext()); // not Akka's stage's default: a thread per task on two cores
    return readIndex.thenComposeAsync(result -> {
      if (result instanceof ReadResult.Unavailable unavailable) {
        throw new StateUnavailable(unavailable.reason());
      }
      return stateAt(((FollowerActor.Value) result).appliedIndex());
    }, system.executionContext());
  }

  /** How long a read through the leader waits for its answer before it may be sent again. */
  private static final Duration READ_ATTEMPT = Duration.ofSeconds(1);
  /** How often, after that, a read without an answer looks whether this node follows another leader. */
  private static final Duration LEADER_CHANGE_CHECK = Duration.ofMillis(200);
  /** The pause before a read is sent again after the node knew no leader to pass it to. */
  private static final Duration NO_LEADER_PAUSE = Duration.ofMillis(100);
  private static final ExecutionContext PARASITIC = ExecutionContext.parasitic$.MODULE$;

  /**
   * A read through the leader, asked of this node's LeaderActor, which passes it to the leader it
   * knows. Reads change nothing, so one may be sent twice: one without an answer after
   * {@link #READ_ATTEMPT} is sent again once this node hears from another leader (the one it went
   * to was paused or cut off, and has been replaced), and one that met a node knowing no leader (an
   * election, or a deposed leader that has not heard from the new one) is sent again shortly. The
   * first answer of any attempt is the answer; a leader that lives but cannot confirm its term
   * answers so itself. Until {@code within} has passed. Before 2026-11-30 such a read waited out
   * the whole time and got a 503 saying no leader existed, seconds after a new one was elected.
   */
  private CompletionStage<ReadResult> askLeader(Function<ActorRef<ReadResult>, LeaderActor.Command> read,
      Duration within) {
    long deadlineNanos = System.nanoTime() + within.toNanos();
    Promise<ReadResult> answer = Promise.apply();
    sendRead(read, deadlineNanos, answer);
    return FutureConverters.toJava(answer.future());
  }

  private void sendRead(Function<ActorRef<ReadResult>, LeaderActor.Command> read, long deadlineNanos,
      Promise<ReadResult> answer) {
    long leaderKnown = leaderTermKnownHere();
    Duration left = Duration.ofNanos(Math.max(1, deadlineNanos - System.nanoTime()));
    // On the Scala future behind the ask, run where it completes. Akka's CompletionStages
    // (scala-java8-compat) run every callback, also whenComplete, on ForkJoinPool.commonPool, and on
    // two cores that pool starts a thread per task: that cut leader reads to a quarter (6,500
    // against 28,300 a second at 20 connections to the leader of an idle ./kv cluster).
    FutureConverters.toScala(AskPattern.<LeaderActor.Command, ReadResult>ask(leader, read::apply, left,
        system.scheduler())).onComplete(tried -> {
          ReadResult result = tried.isSuccess() ? tried.get() : null;
          if (result instanceof ReadResult.Unavailable u && u.noLeaderKnown()
              && deadlineNanos - System.nanoTime() > NO_LEADER_PAUSE.toNanos()) {
            later(NO_LEADER_PAUSE, () -> sendRead(read, deadlineNanos, answer));
          } else if (result != null) {
            answer.trySuccess(result);
          } else {
            answer.tryFailure(tried.failed().get());
          }
          return null;
        }, PARASITIC);
    Cancellable check = later(READ_ATTEMPT, () -> sendAgainOnLeaderChange(read, deadlineNanos, answer, leaderKnown));
    answer.future().onComplete(done -> check.cancel(), PARASITIC); // most reads: the check goes at once
  }

  private void sendAgainOnLeaderChange(Function<ActorRef<ReadResult>, LeaderActor.Command> read,
      long deadlineNanos, Promise<ReadResult> answer, long sentInTerm) {
    if (answer.isCompleted() || deadlineNanos - System.nanoTime() <= 0) {
      return;
    }
    if (leaderTermKnownHere() != sentInTerm) {
      sendRead(read, deadlineNanos, answer);
    } else {
      later(LEADER_CHANGE_CHECK, () -> sendAgainOnLeaderChange(read, deadlineNanos, answer, sentInTerm));
    }
  }

  /** The term of the leader this node's replica last heard from (terms are unique to their leader); 0: none. */
  private long leaderTermKnownHere() {
    return localView.contact().map(ReplicaView.Contact::term).orElse(0L);
  }

  private Cancellable later(Duration delay, Runnable task) {
    return system.scheduler().scheduleOnce(delay, task, system.executionContext());
  }

  private CompletionStage<ReplicaState> stateAt(long minIndex) {
    return AskPattern.<FollowerActor.Command, ReplicaState>ask(localReplica,
            replyTo -> new FollowerActor.StateAt(minIndex, replyTo), settings.askTimeout(), system.scheduler())
        .exceptionallyAsync(failure -> {
          throw new StateUnavailable(minIndex == 0
              ? "no answer from this node's replica (still recovering?)"
              : "this node's replica did not apply the read index " + minIndex + " within "
                  + settings.askTimeout().toMillis() + " ms (catching up, or cut off from the leader)");
        }, system.executionContext()); // not Akka's stage's default: a thread per task on two cores
  }

  private Route onState(ReadConsistency consistency, Function<ReplicaState, Route> inner) {
    return onComplete(stateFor(consistency), tried -> {
      if (tried.isFailure()) {
        Throwable cause = tried.failed().get();
        while (cause instanceof CompletionException && cause.getCause() != null) {
          cause = cause.getCause();
        }
        if (cause instanceof StateUnavailable unavailable) {
          return json(StatusCodes.SERVICE_UNAVAILABLE, error(unavailable.getMessage()));
        }
        throw new IllegalStateException("reading this node's state failed", cause);
      }
      return respondWithHeader(indexHeader(tried.get().appliedIndex()), () -> inner.apply(tried.get()));
    });
  }

  private Route range() {
    return withQuery(RANGE_PARAMS, q -> {
      String prefix = limits.prefix(q.get("prefix"));
      String after = limits.after(q.get("after"));
      int limit = limits.rangeLimit(q.get("limit"));
      boolean keysOnly = limits.flag("keysOnly", q.get("keysOnly"));
      return onState(limits.consistency(q.get("consistency")),
          state -> rangeResponse(state.range(prefix, after, limit, !keysOnly), keysOnly));
    });
  }

  private Route rangeResponse(KeyPage page, boolean keysOnly) {
    List<Map<String, Object>> items = new ArrayList<>(page.items().size());
    long now = System.currentTimeMillis();
    for (KeyValue kv : page.items()) {
      items.add(withTtl(keysOnly ? ordered("key", kv.key(), "version", kv.version())
          : ordered("key", kv.key(), "value", kv.value(), "version", kv.version()), kv.expiresAt(), now));
    }
    Map<String, Object> body = ordered("items", items, "more", page.more());
    if (page.more()) {
      body.put("next", page.next());
    }
    body.put("index", page.appliedIndex());
    body.put("node", settings.nodeId());
    return json(StatusCodes.OK, body);
  }

  /**
   * The whole state as NDJSON: a header line, then one line per key in key order, all from one
   * immutable state, streamed in chunks as the client reads (never built as one string).
   */
  private Route backup() {
    return withQuery(BACKUP_PARAMS, q -> onState(limits.consistency(q.get("consistency")), state -> {
      ByteString header = ndjsonLine(ordered("index", state.appliedIndex(), "keys", state.keyCount(),
          "digest", state.digestHex()));
      Source<ByteString, NotUsed> lines = Source.single(header).concat(
          Source.fromIterator(state::pairs)
              .groupedWeighted(BACKUP_CHUNK_CHARS, KeyValue::approximateChars)
              .map(this::ndjsonLines));
      return complete(HttpResponse.create()
          .withStatus(StatusCodes.OK)
          .withEntity(HttpEntities.createChunked(NDJSON, lines)));
    }));
  }

  private ByteString ndjsonLine(Map<String, Object> fields) {
    try {
      return ByteString.fromArray(mapper.writeValueAsBytes(fields)).concat(ByteString.fromString("\n"));
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException(e);
    }
  }

  private ByteString ndjsonLines(List<KeyValue> pairs) {
    ByteStringBuilder out = ByteString.createBuilder();
    long now = System.currentTimeMillis();
    try (JsonGenerator g = mapper.getFactory().createGenerator(out.asOutputStream())) {
      g.setPrettyPrinter(new MinimalPrettyPrinter(""));
      for (KeyValue kv : pairs) {
        g.writeStartObject();
        g.writeStringField("key", kv.key());
        g.writeStringField("value", kv.value());
        g.writeNumberField("version", kv.version());
        if (kv.expiresAt() != 0) {
          g.writeNumberField("ttlMs", kv.ttlMsAt(now));
        }
        g.writeEndObject();
        g.writeRaw('\n');
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.result();
  }

  // --- status and readiness ---

  private record NodeView(FollowerActor.Position position, Optional<LeaderActor.LeaderInfo> leaderInfo) {}

  private CompletionStage<NodeView> nodeView() {
    CompletionStage<FollowerActor.Position> position = AskPattern.ask(
        localReplica, FollowerActor.GetPosition::new, STATUS_ASK, system.scheduler());
    CompletionStage<Optional<LeaderActor.LeaderInfo>> info = AskPattern.<LeaderActor.Command, LeaderActor.LeaderInfo>ask(
            leader, LeaderActor.GetLeaderInfo::new, STATUS_ASK, system.scheduler())
        .handleAsync((i, failure) -> Optional.ofNullable(i),
            system.executionContext());
    return position.thenCombineAsync(info, NodeView::new, system.executionContext());
  }

  private Route status() {
    return onComplete(nodeView(), tried -> {
      if (tried.isFailure()) {
        return json(StatusCodes.SERVICE_UNAVAILABLE, error("this node's replica did not answer (still recovering?)"));
      }
      FollowerActor.Position p = tried.get().position();
      Optional<LeaderActor.LeaderInfo> info = tried.get().leaderInfo();
      boolean isLeader = info.map(LeaderActor.LeaderInfo::active).orElse(false);
      Map<String, Object> body = new LinkedHashMap<>();
      body.put("node", settings.nodeId());
      body.put("role", info.map(LeaderActor.LeaderInfo::role).orElse("unknown"));
      body.put("leader", info.map(LeaderActor.LeaderInfo::leader).orElse(null));
      body.put("term", info.map(LeaderActor.LeaderInfo::term).orElse(p.promisedTerm()));
      body.put("leaderTerm", info.map(LeaderActor.LeaderInfo::leaderTerm).orElse(null));
      body.put("election", info.map(LeaderActor.LeaderInfo::election).orElse("the leader actor did not answer"));
      body.put("msSinceLeaderContact", info.map(LeaderActor.LeaderInfo::msSinceLeaderContact).orElse(-1L));
      body.put("writeQuorum", settings.replication().writeQuorum());
      body.put("followers", settings.replication().followers());
      body.put("minDelay", settings.replication().minDelay().toNanos() / 1e6);
      body.put("maxDelay", settings.replication().maxDelay().toNanos() / 1e6);
      body.put("leaderAddress", info.map(LeaderActor.LeaderInfo::leaderAddress).orElse(null));
      body.put("appliedIndex", p.appliedIndex());
      body.put("lastIndex", p.lastIndex());
      body.put("committedIndex", info.map(LeaderActor.LeaderInfo::committedIndex).orElse(null));
      body.put("keyCount", p.keyCount());
      body.put("digest", p.digest());
      body.put("members", members());
      if (isLeader) {
        body.put("leaderLastIndex", info.get().lastIndex());
        body.put("reachableFollowers", info.get().reachableFollowers());
        body.put("replication", info.get().followers());
      }
      return json(StatusCodes.OK, body);
    });
  }

  private List<Map<String, Object>> members() {
    Cluster cluster = Cluster.get(system);
    Set<Member> unreachable = cluster.state().getUnreachable();
    List<Map<String, Object>> out = new ArrayList<>();
    for (Member m : cluster.state().getMembers()) {
      String node = m.getRoles().stream().filter(r -> !r.startsWith("dc-")).findFirst().orElse("?");
      out.add(ordered("node", node, "address", m.address().toString(), "status", m.status().toString(),
          "reachable", !unreachable.contains(m)));
    }
    out.sort((a, b) -> String.valueOf(a.get("node")).compareTo(String.valueOf(b.get("node"))));
    return out;
  }

  private Route ready() {
    Member self = Cluster.get(system).selfMember();
    if (self.status() != MemberStatus.up()) {
      return notReady("not joined to the cluster yet (member status " + self.status() + ")");
    }
    return onComplete(nodeView(), tried -> {
      if (tried.isFailure()) {
        return notReady("this node's replica did not answer (still recovering?)");
      }
      Optional<LeaderActor.LeaderInfo> info = tried.get().leaderInfo().filter(i -> i.leader() != null);
      if (info.isEmpty()) {
        return notReady("no leader known yet");
      }
      if (info.get().leaderAddress() == null) {
        // The election named a leader on a node this node's membership does not list yet: a write
        // sent here would get 503.
        return notReady("leader " + info.get().leader() + " elected, but this node does not know its address "
            + "yet, so it cannot pass writes on to it");
      }
      long lag = info.get().committedIndex() - tried.get().position().appliedIndex();
      if (lag > settings.readyMaxLag()) {
        return notReady("catching up: " + lag + " entries behind the leader's committed index");
      }
      return json(StatusCodes.OK, ordered("ready", true, "node", settings.nodeId(), "leader", info.get().leader(),
          "appliedIndex", tried.get().position().appliedIndex()));
    });
  }

  private Route notReady(String reason) {
    return json(StatusCodes.SERVICE_UNAVAILABLE, ordered("ready", false, "node", settings.nodeId(), "error", reason));
  }

  // --- JSON and errors ---

  private JsonNode parseObject(String body) {
    try {
      JsonNode node = mapper.readTree(body);
      if (node == null || !node.isObject()) {
        throw new InvalidRequest("body must be a JSON object like {\"key\": \"k\", \"value\": \"v\"}");
      }
      return node;
    } catch (JsonProcessingException e) {
      throw new InvalidRequest("body is not valid JSON: " + e.getOriginalMessage());
    }
  }

  private static String stringField(JsonNode json, String field) {
    JsonNode v = json.get(field);
    if (v == null || v.isNull()) {
      throw new InvalidRequest("missing field '" + field + "'");
    }
    if (!v.isTextual()) {
      throw new InvalidRequest("field '" + field + "' must be a string");
    }
    return v.asText();
  }

  private Route json(StatusCode status, Object body) {
    return complete(answer(status, body));
  }

  private HttpResponse answer(StatusCode status, Object body) {
    return JsonAnswer.of(mapper, status, body);
  }

  private static Map<String, Object> error(String message, Object... fields) {
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("error", message);
    body.putAll(ordered(fields));
    return body;
  }

  private static Map<String, Object> ordered(Object... keysAndValues) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < keysAndValues.length; i += 2) {
      m.put((String) keysAndValues[i], keysAndValues[i + 1]);
    }
    return m;
  }

  private ExceptionHandler newExceptionHandler() {
    return ExceptionHandler.newBuilder()
        .match(InvalidRequest.class, e -> json(StatusCodes.BAD_REQUEST, error(e.getMessage())))
        .match(TxnRequest.TooLarge.class, e -> json(StatusCodes.PAYLOAD_TOO_LARGE, error(e.getMessage())))
        .matchAny(e -> complete(internalError(e)))
        .build();
  }

  private HttpResponse internalError(Throwable e) {
    system.log().error("Unexpected error serving a request", e);
    return answer(StatusCodes.INTERNAL_SERVER_ERROR, error("internal error: " + e));
  }

  /** Akka's default rejection answers (405, 404, 400, 413...) with the text wrapped in our JSON shape. */
  private RejectionHandler newRejectionHandler() {
    return RejectionHandler.defaultHandler().mapRejectionResponse(response -> {
      if (response.entity() instanceof HttpEntity.Strict strict
          && !strict.getContentType().equals(ContentTypes.APPLICATION_JSON)) {
        String text = strict.getData().utf8String();
        try {
          return response.withEntity(ContentTypes.APPLICATION_JSON, mapper.writeValueAsBytes(error(text)));
        } catch (JsonProcessingException e) {
          return response;
        }
      }
      return response;
    });
  }

  private Route failWith(InvalidRequest e) {
    return json(StatusCodes.BAD_REQUEST, error(e.getMessage()));
  }
}
