/**
 * Item-level DynamoDB actions the API and the worker use on the one table: point reads, conditional
 * writes (a TransactWriteItems call is authorised per item by these same actions; quota counters
 * are conditional UpdateItems) and deletes (DELETE /v1/images/{id}; records of removed dropped
 * objects). No Scan, no Query, no table-level actions.
 */
export const TABLE_ITEM_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:ConditionCheckItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
] as const;
