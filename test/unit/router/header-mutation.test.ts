import assert from "node:assert/strict";
import type { OutgoingHttpHeaders } from "node:http2";
import { describe, it } from "node:test";
import type { HeaderMutations } from "../../../src/config/model.js";
import { applyHeaderOps, compileHeaderMutations, NO_HEADER_MUTATIONS } from "../../../src/router/header-mutation.js";
import { RouteTable } from "../../../src/router/route-table.js";
import { catchAll, NO_MUTATIONS, route, routeConfig, vhost } from "./builders.js";

function mutations(overrides: Partial<HeaderMutations>): HeaderMutations {
  return { ...NO_MUTATIONS, ...overrides };
}

function applyRequest(levels: HeaderMutations[], headers: OutgoingHttpHeaders): OutgoingHttpHeaders {
  applyHeaderOps(compileHeaderMutations(levels).request, headers);
  return headers;
}

void describe("header mutation", () => {
  const cases: [name: string, levels: HeaderMutations[], before: OutgoingHttpHeaders, after: OutgoingHttpHeaders][] = [
    ["add to absent header", [mutations({ requestToAdd: [{ name: "x-a", value: "1", append: true }] })], {}, { "x-a": "1" }],
    [
      "append joins with ','",
      [mutations({ requestToAdd: [{ name: "x-a", value: "2", append: true }] })],
      { "x-a": "1" },
      { "x-a": "1,2" },
    ],
    [
      "append to a numeric value",
      [mutations({ requestToAdd: [{ name: "x-n", value: "2", append: true }] })],
      { "x-n": 1 },
      { "x-n": "1,2" },
    ],
    [
      "append to an array adds an element",
      [mutations({ requestToAdd: [{ name: "x-a", value: "3", append: true }] })],
      { "x-a": ["1", "2"] },
      { "x-a": ["1", "2", "3"] },
    ],
    [
      "append set-cookie keeps separate fields",
      [mutations({ requestToAdd: [{ name: "set-cookie", value: "b=2", append: true }] })],
      { "set-cookie": "a=1" },
      { "set-cookie": ["a=1", "b=2"] },
    ],
    [
      "append cookie keeps separate crumbs",
      [mutations({ requestToAdd: [{ name: "cookie", value: "b=2", append: true }] })],
      { cookie: "a=1" },
      { cookie: ["a=1", "b=2"] },
    ],
    [
      "overwrite replaces",
      [mutations({ requestToAdd: [{ name: "x-a", value: "new", append: false }] })],
      { "x-a": ["old1", "old2"] },
      { "x-a": "new" },
    ],
    ["remove deletes", [mutations({ requestToRemove: ["x-secret"] })], { "x-secret": "s", keep: "k" }, { keep: "k" }],
    ["remove of absent header is a no-op", [mutations({ requestToRemove: ["x-none"] })], { keep: "k" }, { keep: "k" }],
    [
      "names are lower-cased",
      [mutations({ requestToAdd: [{ name: "X-Up", value: "v", append: false }], requestToRemove: ["X-GONE"] })],
      { "x-gone": "g" },
      { "x-up": "v" },
    ],
    [
      "pseudo-headers and host are never touched",
      [
        mutations({
          requestToAdd: [
            { name: ":path", value: "/evil", append: false },
            { name: "host", value: "evil", append: false },
            { name: ":authority", value: "evil", append: true },
          ],
          requestToRemove: [":method", "host"],
        }),
      ],
      { ":path": "/p", ":method": "GET", ":authority": "a", host: "h" },
      { ":path": "/p", ":method": "GET", ":authority": "a", host: "h" },
    ],
    [
      "empty values are not added",
      [mutations({ requestToAdd: [{ name: "x-empty", value: "", append: false }] })],
      {},
      {},
    ],
    [
      "within a level, removal happens before addition",
      [mutations({ requestToRemove: ["x-a"], requestToAdd: [{ name: "x-a", value: "mine", append: true }] })],
      { "x-a": "theirs" },
      { "x-a": "mine" },
    ],
    [
      "the most specific level wins an overwrite",
      [
        mutations({ requestToAdd: [{ name: "x-level", value: "config", append: false }] }),
        mutations({ requestToAdd: [{ name: "x-level", value: "vhost", append: false }] }),
        mutations({ requestToAdd: [{ name: "x-level", value: "route", append: false }] }),
      ],
      {},
      { "x-level": "route" },
    ],
    [
      "appends accumulate least specific first",
      [
        mutations({ requestToAdd: [{ name: "x-l", value: "config", append: true }] }),
        mutations({ requestToAdd: [{ name: "x-l", value: "vhost", append: true }] }),
        mutations({ requestToAdd: [{ name: "x-l", value: "route", append: true }] }),
      ],
      {},
      { "x-l": "config,vhost,route" },
    ],
    [
      "a more specific removal undoes a less specific addition",
      [mutations({ requestToAdd: [{ name: "x-a", value: "1", append: false }] }), mutations({ requestToRemove: ["x-a"] })],
      {},
      {},
    ],
  ];
  for (const [name, levels, before, after] of cases) {
    void it(name, () => {
      assert.deepEqual(applyRequest(levels, { ...before }), after);
    });
  }

  void it("does not mutate an existing array it appends to", () => {
    const shared = ["1"];
    const headers: OutgoingHttpHeaders = { "x-a": shared };
    applyRequest([mutations({ requestToAdd: [{ name: "x-a", value: "2", append: true }] })], headers);
    assert.deepEqual(shared, ["1"]);
    assert.deepEqual(headers["x-a"], ["1", "2"]);
  });

  void it("compiles response operations separately", () => {
    const compiled = compileHeaderMutations([
      mutations({ responseToAdd: [{ name: "x-served-by", value: "pilotfish", append: false }], responseToRemove: ["server"] }),
    ]);
    assert.equal(compiled.request.length, 0);
    const headers: OutgoingHttpHeaders = { server: "upstream", ":status": 200 };
    applyHeaderOps(compiled.response, headers);
    assert.deepEqual(headers, { "x-served-by": "pilotfish", ":status": 200 });
  });

  void it("shares one empty object when nothing is configured", () => {
    assert.equal(compileHeaderMutations([NO_MUTATIONS, NO_MUTATIONS]), NO_HEADER_MUTATIONS);
  });

  void it("RouteTable compiles route config, virtual host and route levels in that order", () => {
    const t = new RouteTable(
      routeConfig(
        [
          vhost(
            "vh",
            ["*"],
            [
              route("r", { kind: "prefix", value: "/r" }, {
                mutations: mutations({ requestToAdd: [{ name: "x-who", value: "route", append: false }] }),
              }),
              catchAll("other"),
            ],
            { mutations: mutations({ requestToAdd: [{ name: "x-who", value: "vhost", append: false }] }) },
          ),
        ],
        mutations({ requestToAdd: [{ name: "x-who", value: "config", append: false }, { name: "x-global", value: "g", append: false }] }),
      ),
    );
    const onRoute: OutgoingHttpHeaders = {};
    applyHeaderOps(t.match("h", "/r", {})!.headerMutations.request, onRoute);
    assert.deepEqual(onRoute, { "x-who": "route", "x-global": "g" });
    const onOther: OutgoingHttpHeaders = {};
    applyHeaderOps(t.match("h", "/x", {})!.headerMutations.request, onOther);
    assert.deepEqual(onOther, { "x-who": "vhost", "x-global": "g" });
  });
});
