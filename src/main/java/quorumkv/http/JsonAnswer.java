package quorumkv.http;

import akka.http.javadsl.model.ContentTypes;
import akka.http.javadsl.model.HttpEntities;
import akka.http.javadsl.model.HttpResponse;
import akka.http.javadsl.model.StatusCode;
import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.util.ByteArrayBuilder;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * An answer of this API: {@code body} rendered as JSON into a strict entity. No marshaller per
 * request and no content negotiation: every answer is JSON, whatever the client's {@code Accept}.
 */
final class JsonAnswer {
  private JsonAnswer() {}

  static HttpResponse of(ObjectMapper mapper, StatusCode status, Object body) {
    byte[] rendered;
    try {
      rendered = mapper.writeValueAsBytes(body);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("answer not renderable as JSON: " + e.getOriginalMessage(), e);
    }
    return HttpResponse.create().withStatus(status).withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, rendered));
  }

  /**
   * The object {@code {name: value, ...}} of {@code namesAndValues} (a name, its value, the next
   * name...), in that order, written straight to a generator: the answers of every read and write,
   * without the map and the serializer lookups per value of {@link #of}. Values are strings,
   * {@code Integer}s, {@code Long}s, {@code Boolean}s or null.
   */
  static HttpResponse fields(ObjectMapper mapper, StatusCode status, Object... namesAndValues) {
    ByteArrayBuilder out = new ByteArrayBuilder(mapper.getFactory()._getBufferRecycler());
    try (JsonGenerator g = mapper.getFactory().createGenerator(out, JsonEncoding.UTF8)) {
      g.writeStartObject();
      for (int i = 0; i < namesAndValues.length; i += 2) {
        g.writeFieldName((String) namesAndValues[i]);
        Object v = namesAndValues[i + 1];
        if (v == null) {
          g.writeNull();
        } else if (v instanceof String text) {
          g.writeString(text);
        } else if (v instanceof Long n) {
          g.writeNumber(n);
        } else if (v instanceof Integer n) {
          g.writeNumber(n);
        } else if (v instanceof Boolean b) {
          g.writeBoolean(b);
        } else {
          throw new IllegalArgumentException("not a plain JSON value: " + v.getClass().getName());
        }
      }
      g.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException("answer not renderable as JSON", e);
    }
    byte[] rendered = out.toByteArray();
    out.release();
    return HttpResponse.create().withStatus(status).withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, rendered));
  }
}
