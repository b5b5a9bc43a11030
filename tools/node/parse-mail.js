#!/usr/bin/env node
'use strict';
// Reads one raw RFC 5322 message on stdin, parses it with mailparser's simpleParser and prints
// one JSON object on stdout:
//   subject, messageId, date (ISO 8601 or null), text, html (null when absent),
//   from / to / cc / bcc / replyTo: arrays of {name, address} (groups flattened),
//   headers: {lower-case name: string} (the decoded value; the last one when repeated),
//   headerLines: [{key, line}] (the raw, unfolded header lines as mailparser saw them),
//   attachments: number of attachments.
// Exit status 0 on success, 1 when the input cannot be parsed (the reason on stderr).
// Used by herald's integration tests to check the MIME that herald wrote.

const { simpleParser } = require('mailparser');

function mailboxes(field) {
    if (!field) {
        return [];
    }
    const out = [];
    const lists = Array.isArray(field) ? field : [field];
    const walk = (entries) => {
        for (const entry of entries || []) {
            if (entry.group) {
                walk(entry.group);
            } else {
                out.push({ name: entry.name || '', address: entry.address || '' });
            }
        }
    };
    for (const list of lists) {
        walk(list.value);
    }
    return out;
}

function headerText(value) {
    if (value === null || value === undefined) {
        return '';
    }
    if (typeof value === 'string') {
        return value;
    }
    if (value instanceof Date) {
        return value.toISOString();
    }
    if (Array.isArray(value)) {
        return value.map(headerText).join(', ');
    }
    if (typeof value === 'object') {
        if (typeof value.text === 'string') {
            return value.text;
        }
        if (typeof value.value === 'string') {
            return value.value;
        }
        return JSON.stringify(value);
    }
    return String(value);
}

function readStdin() {
    return new Promise((resolve, reject) => {
        const chunks = [];
        process.stdin.on('data', (chunk) => chunks.push(chunk));
        process.stdin.on('end', () => resolve(Buffer.concat(chunks)));
        process.stdin.on('error', reject);
    });
}

async function main() {
    const raw = await readStdin();
    const mail = await simpleParser(raw, { skipImageLinks: true, skipTextToHtml: true });
    const headers = {};
    for (const [key, value] of mail.headers) {
        headers[key] = headerText(value);
    }
    const result = {
        subject: mail.subject === undefined ? null : mail.subject,
        messageId: mail.messageId === undefined ? null : mail.messageId,
        date: mail.date instanceof Date ? mail.date.toISOString() : null,
        text: typeof mail.text === 'string' ? mail.text : null,
        html: typeof mail.html === 'string' ? mail.html : null,
        from: mailboxes(mail.from),
        to: mailboxes(mail.to),
        cc: mailboxes(mail.cc),
        bcc: mailboxes(mail.bcc),
        replyTo: mailboxes(mail.replyTo),
        headers,
        headerLines: (mail.headerLines || []).map((h) => ({ key: h.key, line: h.line })),
        attachments: (mail.attachments || []).length,
    };
    process.stdout.write(JSON.stringify(result));
}

main().catch((err) => {
    process.stderr.write(`parse-mail: ${err && err.stack ? err.stack : err}\n`);
    process.exit(1);
});
