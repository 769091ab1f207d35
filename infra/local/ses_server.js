// Starts aws-ses-v2-local for fanmail's local stack, with two changes for large campaigns.
//
// 1. The stand-in keeps every mail it accepts, body included: a 30,000-mail campaign of a
//    100 KB newsletter is gigabytes in memory. Only the newest mails keep their bodies
//    (FANMAIL_SES_KEEP_BODIES, default 5,000); older ones keep their headers and recipients.
// 2. GET /fanmail/destinations answers the recipients of every stored mail, in order, without
//    the bodies, so a benchmark can check exactly-once delivery of a large campaign.
//
// Usage: node ses_server.js --host 127.0.0.1 --port <port>   (the arguments of its cli.js)
'use strict';

const path = require('path');

const modules = path.join(__dirname, '../../.tools/node/node_modules');
const dist = path.join(modules, 'aws-ses-v2-local/dist');
const store = require(path.join(dist, 'store'));

const keepBodies = Number(process.env.FANMAIL_SES_KEEP_BODIES || 5000);
const dropped = '(not kept: the local SES stand-in keeps the bodies of its newest mails only)';
const saveEmail = store.saveEmail;
let stripped = 0;
store.saveEmail = (email) => {
  saveEmail(email);
  const emails = store.getStoreReadonly().emails;
  if (stripped > emails.length) stripped = 0; // the store was cleared
  while (emails.length - stripped > keepBodies) {
    const old = emails[stripped++];
    old.body = { html: dropped, text: dropped };
    old.attachments = [];
  }
};

const expressPath = require.resolve('express', { paths: [dist] });
const express = require(expressPath);
const withDestinations = Object.assign((...args) => {
  const app = express(...args);
  app.get('/fanmail/destinations', (req, res) => {
    res.status(200).send(store.getStoreReadonly().emails.map((e) => e.destination.to));
  });
  return app;
}, express);
require.cache[expressPath].exports = withDestinations;

require(path.join(dist, 'cli.js'));
