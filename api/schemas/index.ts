/** JSON schemas of the API's bodies, one file per domain, shared by the validators and the OpenAPI document. */
export * from './common';
export * from './catalog';
export * from './customers';
export * from './orders';
export * from './invoices';
export * from './licensing';
export * from './system';
export * from './identity';
export * from './support';
