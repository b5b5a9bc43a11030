#!/usr/bin/env node
'use strict';
// A test OTLP/HTTP collector: `node otlp-collector.js PORT`. Listens on 127.0.0.1:PORT, takes
// POST /v1/traces with a JSON body (OTLP/HTTP JSON encoding) and answers 200 {}. Each body is
// decoded with the official OTLP schema (the protobuf definitions compiled into the npm package
// @opentelemetry/otlp-transformer): OTLP JSON's hex trace and span ids are turned into bytes, the
// object is read with ExportTraceServiceRequest.fromObject, checked with verify, and written back
// with toObject; anything the schema does not know or reads differently makes the round trip
// differ and is reported as an error. GET /spans answers
//   {"requests": N, "errors": [...], "spans": [{service, traceId, spanId, parentSpanId, name,
//    kind, attributes: {key: value}, statusCode}]}
// with ids as lower-case hex. Prints "listening PORT" once ready.

const http = require('http');
const assert = require('assert');
const root = require('@opentelemetry/otlp-transformer/build/src/generated/root');

const Request = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
const state = { requests: 0, errors: [], spans: [] };

function hexToBase64(value, bytes, what) {
    if (typeof value !== 'string' || value.length !== bytes * 2 || !/^[0-9a-f]+$/.test(value)) {
        throw new Error(`${what} is not ${bytes * 2} lower-case hex digits: ${value}`);
    }
    return Buffer.from(value, 'hex').toString('base64');
}

// Empty arrays and absent fields read the same in protobuf; drop them so the round trip compares.
function withoutEmpty(value) {
    if (Array.isArray(value)) {
        return value.map(withoutEmpty);
    }
    if (value && typeof value === 'object') {
        const out = {};
        for (const [key, field] of Object.entries(value)) {
            if (!(Array.isArray(field) && field.length === 0)) {
                out[key] = withoutEmpty(field);
            }
        }
        return out;
    }
    return value;
}

// An AnyValue message: its `value` oneof names the field that is set.
function attributeValue(value) {
    const which = value.value;
    if (!which) {
        return null;
    }
    return which === 'intValue' ? Number(value.intValue.toString()) : value[which];
}

function attributes(list) {
    const out = {};
    for (const entry of list || []) {
        out[entry.key] = attributeValue(entry.value || {});
    }
    return out;
}

function decode(text) {
    const json = JSON.parse(text);
    for (const resourceSpans of json.resourceSpans || []) {
        for (const scopeSpans of resourceSpans.scopeSpans || []) {
            for (const span of scopeSpans.spans || []) {
                span.traceId = hexToBase64(span.traceId, 16, 'traceId');
                span.spanId = hexToBase64(span.spanId, 8, 'spanId');
                if (span.parentSpanId !== undefined) {
                    span.parentSpanId = hexToBase64(span.parentSpanId, 8, 'parentSpanId');
                }
            }
        }
    }
    const message = Request.fromObject(json);
    const problem = Request.verify(message);
    if (problem) {
        throw new Error(`schema: ${problem}`);
    }
    const back = Request.toObject(message, { longs: String, enums: Number, bytes: String });
    assert.deepStrictEqual(withoutEmpty(back), withoutEmpty(json), 'OTLP round trip differs');

    const hex = (bytes) => (bytes && bytes.length ? Buffer.from(bytes).toString('hex') : '');
    for (const resourceSpans of message.resourceSpans) {
        const resource = attributes(resourceSpans.resource && resourceSpans.resource.attributes);
        for (const scopeSpans of resourceSpans.scopeSpans) {
            for (const span of scopeSpans.spans) {
                state.spans.push({
                    service: resource['service.name'] || '',
                    traceId: hex(span.traceId),
                    spanId: hex(span.spanId),
                    parentSpanId: hex(span.parentSpanId),
                    traceState: span.traceState || '',
                    name: span.name,
                    kind: span.kind,
                    attributes: attributes(span.attributes),
                    statusCode: span.status ? span.status.code : 0,
                });
            }
        }
    }
}

const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
        if (req.method === 'POST' && req.url === '/v1/traces') {
            state.requests += 1;
            try {
                if (!String(req.headers['content-type'] || '').startsWith('application/json')) {
                    throw new Error(`content-type ${req.headers['content-type']}`);
                }
                decode(Buffer.concat(chunks).toString('utf8'));
            } catch (err) {
                state.errors.push(String(err && err.message ? err.message : err));
            }
            res.writeHead(200, { 'Content-Type': 'application/json' });
            res.end('{}');
            return;
        }
        if (req.method === 'GET' && req.url === '/spans') {
            res.writeHead(200, { 'Content-Type': 'application/json' });
            res.end(JSON.stringify(state));
            return;
        }
        res.writeHead(404);
        res.end();
    });
});

server.listen(Number(process.argv[2]), '127.0.0.1', () => {
    process.stdout.write(`listening ${server.address().port}\n`);
});
