/**
 * Item-level DynamoDB actions the API and the worker use on the one table: point reads and
 * conditional writes (a TransactWriteItems call is authorised per item by these same actions). No Scan, no Query, no DeleteItem (TTL removes items),
 * no table-level actions.
 */
export const TABLE_ITEM_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:ConditionCheckItem',
] as const;
