// The classic sample's users service, rebuilt from its documented routes for
// bench/http_bench.py --peer: Koa 1.x (generator middleware), koa-router 5.x, the users of
// db.json held in memory, one console line per request as the sample logs them.
//
//   node server.js PORT DB_JSON
'use strict';

const fs = require('fs');
const koa = require('koa');
const makeRouter = require('koa-router');

const port = Number(process.argv[2] || process.env.PORT || 3000);
const dbPath = process.argv[3] || './db.json';
const db = JSON.parse(fs.readFileSync(dbPath, 'utf8'));

const app = koa();
const router = makeRouter();

app.use(function* logRequest(next) {
  const started = Date.now();
  yield next;
  console.log('%s %s - %s', this.method, this.url, Date.now() - started);
});

router.get('/api/users', function* listUsers() {
  this.body = db.users;
});

router.get('/api/users/:userId', function* getUser() {
  const id = parseInt(this.params.userId, 10);
  this.body = db.users.find((user) => user.id === id);
});

router.get('/api/', function* apiRoot() {
  this.body = 'API ready to receive requests';
});

router.get('/', function* root() {
  this.body = 'Ready to receive requests';
});

app.use(router.routes());
app.use(router.allowedMethods());
app.listen(port, '127.0.0.1');
console.log('koa users listening on %d', port);
