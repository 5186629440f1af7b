export * from './dependency';
export * from './error';
export * from './identity';
export * from './money';
export * from './order.dto';
export * from './pagination.dto';
export * from './product.dto';
export * from './user.dto';
