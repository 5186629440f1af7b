export * from './database.config';
export * from './database.module';
export * from './migrations';
export * from './unique-violation';
