// The wire protocol as the pages speak it: one builder per client message, and a check of
// every outgoing message against the JSON Schema the server generates from
// signaling/messages.py (GET /protocol/schema.json). The server has the last word: in strict
// mode it closes a websocket whose message fails the schema.

export const PROTOCOL_VERSION = 1;

function message(type, fields) {
  const out = { v: PROTOCOL_VERSION, type };
  for (const [key, value] of Object.entries(fields)) {
    if (value !== undefined && value !== null) out[key] = value;
  }
  return out;
}

export const build = {
  hello: (role, identity, token) => message('hello', { role, identity, token }),
  resume: (resumeToken, lastSeq) =>
    message('resume', { resume_token: resumeToken, last_seq: lastSeq }),
  requestConsultation: (topic, language) =>
    message('request_consultation', { topic, language }),
  cancelRequest: (consultationId) =>
    message('cancel_request', { consultation_id: consultationId }),
  leaveCallback: (consultationId, phone) =>
    message('leave_callback', { consultation_id: consultationId, ...(phone ? { phone } : {}) }),
  setDuty: (onDuty) => message('set_duty', { on_duty: onDuty }),
  accept: (consultationId) => message('accept', { consultation_id: consultationId }),
  decline: (consultationId) => message('decline', { consultation_id: consultationId }),
  hangUp: (consultationId) => message('hang_up', { consultation_id: consultationId }),
  ping: () => message('ping', {}),
  sdp: (consultationId, sdpType, sdp) =>
    message('sdp', { consultation_id: consultationId, sdp_type: sdpType, sdp }),
  iceCandidate: (consultationId, candidate, sdpMid, sdpMLineIndex) =>
    message('ice_candidate', {
      consultation_id: consultationId,
      candidate,
      sdp_mid: sdpMid,
      sdp_mline_index: sdpMLineIndex,
    }),
};

export async function loadSchema(url) {
  const response = await fetch(url, { cache: 'no-store' });
  if (!response.ok) throw new Error(`schema: HTTP ${response.status}`);
  return response.json();
}

// Problems of one outgoing message against the schema: an empty list when it is valid.
export function validateClientMessage(schema, msg) {
  const limit = schema.limits?.max_message_bytes;
  const errors = [];
  if (limit && new TextEncoder().encode(JSON.stringify(msg)).length > limit) {
    errors.push(`message is larger than ${limit} bytes`);
  }
  const root = schema.client_to_server;
  const ref = root.discriminator.mapping[msg?.type];
  if (!ref) return [...errors, `unknown message type ${JSON.stringify(msg?.type)}`];
  return [...errors, ...check(schema, resolve(schema, ref), msg, msg.type)];
}

function resolve(schema, ref) {
  let node = schema;
  for (const part of ref.replace(/^#\//, '').split('/')) node = node?.[part];
  if (node === undefined) throw new Error(`schema: cannot resolve ${ref}`);
  return node;
}

const TYPE_CHECKS = {
  string: (v) => typeof v === 'string',
  integer: (v) => Number.isInteger(v),
  number: (v) => typeof v === 'number' && Number.isFinite(v),
  boolean: (v) => typeof v === 'boolean',
  null: (v) => v === null,
  array: (v) => Array.isArray(v),
  object: (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
};

function check(schema, node, value, path) {
  if (node.$ref) return check(schema, resolve(schema, node.$ref), value, path);
  const errors = [];
  if (node.anyOf || node.oneOf) {
    const options = node.anyOf || node.oneOf;
    const fits = options.filter((o) => check(schema, o, value, path).length === 0).length;
    if (node.anyOf ? fits === 0 : fits !== 1) errors.push(`${path}: not one of the allowed forms`);
    return errors;
  }
  if ('const' in node && value !== node.const) {
    errors.push(`${path}: must be ${JSON.stringify(node.const)}`);
  }
  if (node.enum && !node.enum.includes(value)) {
    errors.push(`${path}: must be one of ${node.enum.join(', ')}`);
  }
  if (node.type) {
    const types = Array.isArray(node.type) ? node.type : [node.type];
    if (!types.some((t) => TYPE_CHECKS[t]?.(value))) {
      errors.push(`${path}: must be ${types.join(' or ')}`);
      return errors;
    }
  }
  if (typeof value === 'string') errors.push(...checkString(node, value, path));
  if (typeof value === 'number') errors.push(...checkNumber(node, value, path));
  if (TYPE_CHECKS.object(value)) errors.push(...checkObject(schema, node, value, path));
  if (Array.isArray(value) && node.items) {
    value.forEach((item, i) => errors.push(...check(schema, node.items, item, `${path}[${i}]`)));
  }
  return errors;
}

function checkString(node, value, path) {
  const errors = [];
  const length = [...value].length; // code points, as JSON Schema counts them
  if (node.minLength !== undefined && length < node.minLength) {
    errors.push(`${path}: shorter than ${node.minLength}`);
  }
  if (node.maxLength !== undefined && length > node.maxLength) {
    errors.push(`${path}: longer than ${node.maxLength}`);
  }
  if (node.pattern && !new RegExp(node.pattern, 'u').test(value)) {
    errors.push(`${path}: does not match ${node.pattern}`);
  }
  return errors;
}

function checkNumber(node, value, path) {
  const errors = [];
  if (node.minimum !== undefined && value < node.minimum) errors.push(`${path}: below ${node.minimum}`);
  if (node.maximum !== undefined && value > node.maximum) errors.push(`${path}: above ${node.maximum}`);
  return errors;
}

function checkObject(schema, node, value, path) {
  const errors = [];
  for (const key of node.required || []) {
    if (!(key in value)) errors.push(`${path}.${key}: required`);
  }
  const properties = node.properties || {};
  for (const [key, item] of Object.entries(value)) {
    if (key in properties) {
      errors.push(...check(schema, properties[key], item, `${path}.${key}`));
    } else if (node.additionalProperties === false) {
      errors.push(`${path}.${key}: not allowed`);
    }
  }
  return errors;
}
